"""A numeric script as a new user writes it: everything in main(), while loops, a few helpers."""
import math


def collatz_len(n):
    """Steps of the Collatz sequence from n down to 1."""
    steps = 0
    while n != 1:
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        steps += 1
    return steps


def main():
    """Longest Collatz chain, a prime count and a numeric integral, all with while loops."""
    best, best_n = 0, 0
    n = 1
    while n < 300000:
        steps = collatz_len(n)
        if steps > best:
            best, best_n = steps, n
        n += 1
    print("collatz", best_n, best)

    count = 0
    k = 2
    while k < 60000:
        d = 2
        prime = True
        while d * d <= k:
            if k % d == 0:
                prime = False
                break
            d += 1
        if prime:
            count += 1
        k += 1
    print("primes", count)

    total = 0
    x = 0.0
    h = 1e-5
    while x < 1.0:
        total += math.sqrt(1 - x * x) * h
        x += h
    print("pi ~", 4 * total)


main()
