"""A class-based simulation as a new user writes it: particles bouncing in a box, with a bank of energy."""


class Particle:
    """A point with a position and a velocity."""

    def __init__(self, x, y, vx, vy):
        self.x, self.y, self.vx, self.vy = x, y, vx, vy

    def step(self, dt):
        """Move, bouncing off the walls of the unit box."""
        self.x += self.vx * dt
        self.y += self.vy * dt
        if self.x < 0 or self.x > 1:
            self.vx = -self.vx
        if self.y < 0 or self.y > 1:
            self.vy = -self.vy

    def energy(self):
        """Kinetic energy (unit mass)."""
        return 0.5 * (self.vx * self.vx + self.vy * self.vy)


class World:
    """All the particles."""

    def __init__(self, n):
        self.particles = [Particle(i / n, (i * 7 % n) / n, 0.01 * (i % 5), -0.02 * (i % 3)) for i in range(n)]
        self.time = 0

    def tick(self, dt):
        """Advance every particle by dt."""
        for p in self.particles:
            p.step(dt)
        self.time += dt

    def total_energy(self):
        """The sum of all the particles' energies."""
        total = 0
        for p in self.particles:
            total += p.energy()
        return total


def main():
    """Run the world for a while and print its energy."""
    world = World(500)
    for _ in range(2000):
        world.tick(0.1)
    print(round(world.total_energy(), 6), round(world.time, 3))


main()
