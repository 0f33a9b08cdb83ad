"""A log parser as a new user writes it: lines of text → counts per level and per host, slowest requests."""
import random


def make_log(n):
    """Some fake access-log lines."""
    rng = random.Random(1)
    hosts = ["alpha", "beta", "gamma", "delta"]
    levels = ["INFO", "INFO", "INFO", "WARN", "ERROR"]
    return [f"{rng.choice(levels)} {rng.choice(hosts)} {rng.randint(1, 900)}" for _ in range(n)]


def parse_line(line):
    """One line → (level, host, milliseconds)."""
    level, host, ms = line.split()
    return level, host, int(ms)


def summarise(lines):
    """Counts per level, total time per host, and the slowest request."""
    per_level = {}
    per_host = {}
    slowest = 0
    for line in lines:
        level, host, ms = parse_line(line)
        per_level[level] = per_level.get(level, 0) + 1
        per_host[host] = per_host.get(host, 0) + ms
        if ms > slowest:
            slowest = ms
    return per_level, per_host, slowest


def main():
    """Parse the log a few times and print the summary."""
    lines = make_log(20000)
    for _ in range(10):
        result = summarise(lines)
    print(result)


main()
