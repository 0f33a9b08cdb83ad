"""Benchmark kernels: plain Python numeric code, as a user would write it (no tiered-specific changes)."""
import math


def sum_squares(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def horner(x, n):
    total = 0.0
    for k in range(n):
        y = x + k * 1e-6
        p = 0.0
        for c in range(20):
            p = p * y + (c + 1.0) / (c + 2.0)
        total += p
    return total


def nbody(steps, dt):
    # three bodies in the plane, positions/velocities/masses as plain floats
    x1, y1, vx1, vy1, m1 = 0.0, 0.0, 0.0, 0.0, 10.0
    x2, y2, vx2, vy2, m2 = 1.0, 0.0, 0.0, 3.0, 1.0
    x3, y3, vx3, vy3, m3 = -2.0, 0.5, 0.2, -2.0, 0.5
    for _ in range(steps):
        dx, dy = x1 - x2, y1 - y2
        d = math.sqrt(dx * dx + dy * dy + 0.01)
        f = dt / (d * d * d)
        vx1 -= dx * m2 * f
        vy1 -= dy * m2 * f
        vx2 += dx * m1 * f
        vy2 += dy * m1 * f
        dx, dy = x1 - x3, y1 - y3
        d = math.sqrt(dx * dx + dy * dy + 0.01)
        f = dt / (d * d * d)
        vx1 -= dx * m3 * f
        vy1 -= dy * m3 * f
        vx3 += dx * m1 * f
        vy3 += dy * m1 * f
        dx, dy = x2 - x3, y2 - y3
        d = math.sqrt(dx * dx + dy * dy + 0.01)
        f = dt / (d * d * d)
        vx2 -= dx * m3 * f
        vy2 -= dy * m3 * f
        vx3 += dx * m2 * f
        vy3 += dy * m2 * f
        x1 += dt * vx1
        y1 += dt * vy1
        x2 += dt * vx2
        y2 += dt * vy2
        x3 += dt * vx3
        y3 += dt * vy3
    kinetic = 0.5 * (m1 * (vx1 * vx1 + vy1 * vy1) + m2 * (vx2 * vx2 + vy2 * vy2) + m3 * (vx3 * vx3 + vy3 * vy3))
    return kinetic + x1 + y2 + x3


def eval_a(i, j):
    return 1.0 / ((i + j) * (i + j + 1) // 2 + i + 1)


def spectral_sum(n):
    # the A(i, j) kernel of spectral norm with its two loops (A times the all-ones vector, then A^T)
    total = 0.0
    for i in range(n):
        row = 0.0
        for j in range(n):
            row += eval_a(i, j)
        col = 0.0
        for j in range(n):
            col += eval_a(j, i)
        total += row * col
    return total


def mandelbrot(size, limit):
    escaped = 0
    for py in range(size):
        ci = 2.0 * py / size - 1.0
        for px in range(size):
            cr = 3.0 * px / size - 2.0
            zr = 0.0
            zi = 0.0
            k = 0
            while k < limit and zr * zr + zi * zi <= 4.0:
                zr, zi = zr * zr - zi * zi + cr, 2.0 * zr * zi + ci
                k += 1
            escaped += k
    return escaped


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def count_primes(n):
    count = 0
    for k in range(2, n):
        d = 2
        prime = True
        while d * d <= k:
            if k % d == 0:
                prime = False
                break
            d += 1
        if prime:
            count += 1
    return count


# name -> (function, arguments for a run of roughly 0.1-1 s under CPython)
def make_poly(a, b, c):
    """A closure over numbers: the kernel reads its coefficients from cells."""
    def poly(n):
        s = 0.0
        for i in range(n):
            x = i * 0.001
            s += (a * x + b) * x + c
        return s
    return poly


poly = make_poly(0.25, -1.5, 2)


KERNELS = {
    "sum_squares": (sum_squares, (3_000_000,)),
    "horner": (horner, (0.5, 50_000)),
    "nbody": (nbody, (200_000, 0.001)),
    "spectral_sum": (spectral_sum, (400,)),
    "mandelbrot": (mandelbrot, (120, 200)),
    "fib": (fib, (25,)),
    "count_primes": (count_primes, (60_000,)),
    "closure_poly": (poly, (2_000_000,)),
}
