"""Benchmark kernels of the object tier: plain Python over lists, dicts, classes and methods (no tiered-specific changes)."""


# ---- nbody over lists of lists of floats --------------------------------------------------
def advance(bodies, dt):
    n = len(bodies)
    for i in range(n):
        bi = bodies[i]
        for j in range(i + 1, n):
            bj = bodies[j]
            dx = bi[0] - bj[0]
            dy = bi[1] - bj[1]
            dz = bi[2] - bj[2]
            d2 = dx * dx + dy * dy + dz * dz + 0.01
            mag = dt / (d2 * d2 ** 0.5)
            bm = bj[6] * mag
            bi[3] -= dx * bm
            bi[4] -= dy * bm
            bi[5] -= dz * bm
            bm = bi[6] * mag
            bj[3] += dx * bm
            bj[4] += dy * bm
            bj[5] += dz * bm
    for b in bodies:
        b[0] += dt * b[3]
        b[1] += dt * b[4]
        b[2] += dt * b[5]
    return n


def nbody_lists(steps):
    bodies = [[float(i), 0.5 * i, -float(i), 0.1 * i, 0.0, 0.2, 1.0 + i] for i in range(5)]
    for _ in range(steps):
        advance(bodies, 0.01)
    return sum(b[0] + b[1] + b[2] for b in bodies)


# ---- a ray-tracer-style vector class ----------------------------------------------------------
class Vec:
    def __init__(self, x, y, z):
        self.x = x
        self.y = y
        self.z = z

    def dot(self, other):
        return self.x * other.x + self.y * other.y + self.z * other.z


def shade(points, light):
    total = 0.0
    for p in points:
        d = p.dot(light)
        if d > 0.0:
            total += d / (p.x * p.x + p.y * p.y + p.z * p.z + 1.0)
    return total


def vectors(rounds):
    points = [Vec(i * 0.01, 1.0 - i * 0.002, 0.5) for i in range(500)]
    light = Vec(0.3, 0.4, 0.5)
    s = 0.0
    for _ in range(rounds):
        s += shade(points, light)
    return s


# ---- a grid of floats as a list of rows ---------------------------------------------------------
def relax(grid, n):
    for i in range(1, n - 1):
        row, up, down = grid[i], grid[i - 1], grid[i + 1]
        for j in range(1, n - 1):
            row[j] = 0.25 * (up[j] + down[j] + row[j - 1] + row[j + 1])
    return grid[n // 2][n // 2]


def stencil(rounds):
    n = 60
    grid = [[float((i * 7 + j * 3) % 11) for j in range(n)] for i in range(n)]
    r = 0.0
    for _ in range(rounds):
        r = relax(grid, n)
    return r


# ---- word count over str and dict ----------------------------------------------------------------
def count_words(words, counts):
    for w in words:
        if w in counts:
            counts[w] += 1
        else:
            counts[w] = 1
    return len(counts)


def word_count(rounds):
    words = ("the quick brown fox jumps over the lazy dog and the cat " * 200).split()
    counts = {}
    for _ in range(rounds):
        count_words(words, counts)
    return sorted(counts.items())[:3]


# ---- a JSON-like tree walk (dicts, lists, isinstance) ---------------------------------------------
def walk(node):
    if isinstance(node, dict):
        total = 0
        for key in node:
            total += walk(node[key])
        return total
    if isinstance(node, list):
        total = 0
        for item in node:
            total += walk(item)
        return total
    if isinstance(node, int):
        return node
    return 1


def tree_walk(rounds):
    tree = {"a": [1, 2, {"b": [3, 4, "x"], "c": 5}], "d": {"e": [6, 7, 8] * 10, "f": "y"}}
    tree = {"root": [tree] * 20}
    s = 0
    for _ in range(rounds):
        s += walk(tree)
    return s


# ---- n-queens over lists of flags -----------------------------------------------------------------
def place(row, n, cols, up, down):
    if row == n:
        return 1
    found = 0
    for c in range(n):
        if not cols[c] and not up[row + c] and not down[row - c + n]:
            cols[c] = up[row + c] = down[row - c + n] = True
            found += place(row + 1, n, cols, up, down)
            cols[c] = up[row + c] = down[row - c + n] = False
    return found


def queens(rounds):
    n, total = 8, 0
    for _ in range(rounds):
        total += place(0, n, [False] * n, [False] * (2 * n), [False] * (2 * n))
    return total


# ---- a Richards-style task scheduler: classes, methods, queues of packets ------------------------
class Packet:
    def __init__(self, kind, value):
        self.kind = kind
        self.value = value
        self.hops = 0


class Task:
    def __init__(self, ident, priority):
        self.ident = ident
        self.priority = priority
        self.inbox = []
        self.done = 0

    def ready(self):
        return len(self.inbox) > 0


class Worker(Task):
    def step(self, sched):
        packet = self.inbox.pop()
        packet.value = (packet.value * 17 + self.ident) % 1009
        packet.hops += 1
        self.done += 1
        if packet.hops < 4:
            sched.send(packet, (self.ident + packet.value) % sched.workers)
        else:
            sched.finish(packet)


class Scheduler:
    def __init__(self, workers):
        self.workers = workers
        self.tasks = [Worker(i, i % 3) for i in range(workers)]
        self.finished = 0
        self.checksum = 0

    def send(self, packet, ident):
        self.tasks[ident].inbox.append(packet)

    def finish(self, packet):
        self.finished += 1
        self.checksum = (self.checksum + packet.value * packet.hops) % 1000003

    def run(self, packets):
        for k in range(packets):
            self.send(Packet(k % 2, k), k % self.workers)
        busy = True
        while busy:
            busy = False
            for task in self.tasks:
                if task.ready():
                    task.step(self)
                    busy = True
        return self.checksum


def richards(rounds):
    total = 0
    for r in range(rounds):
        total += Scheduler(10).run(200 + r % 7)
    return total


# ---- particles: attribute loads and stores on instances ----------------------------------------
class Particle:
    def __init__(self, i):
        self.x = i * 0.5
        self.v = 1.0 - i * 0.01
        self.bounces = 0


def move(particles, dt):
    for p in particles:
        p.x += p.v * dt
        if p.x > 10.0 or p.x < 0.0:
            p.v = -p.v
            p.bounces += 1
    return len(particles)


def particles(steps):
    ps = [Particle(i) for i in range(100)]
    for _ in range(steps):
        move(ps, 0.05)
    return sum(p.bounces for p in ps), round(sum(p.x for p in ps), 6)


KERNELS = {
    "nbody_lists": (nbody_lists, (20_000,)),
    "vectors": (vectors, (400,)),
    "stencil": (stencil, (60,)),
    "word_count": (word_count, (300,)),
    "tree_walk": (tree_walk, (400,)),
    "queens": (queens, (30,)),
    "richards": (richards, (60,)),
    "particles": (particles, (3000,)),
}
