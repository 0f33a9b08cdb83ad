"""Control flow: branches, loops, chained comparisons, and/or, break/continue, conditional expressions."""
from tests.support import Exit, check, exits_of, forced_exits, fresh_copy, refused
from tiered.runtime import manager


def branches(x):
    if x > 10:
        return 1
    elif x > 0:
        return 2
    elif x == 0:
        return 3
    else:
        return 4


def chained(a, b, c):
    return a < b < c


def chained_mixed(a, b, c):
    return a <= b > c != a


def logic(a, b):
    return (a and b) or (a - b) or (b and -a)


def bool_logic(a, b):
    return (a and not b) or (b and a) or not (a or b)


def ternary(x):
    return x * 2 if x % 3 else -x


def loops(n):
    total = 0
    for i in range(n):
        if i % 7 == 3:
            continue
        if i > 500:
            break
        for j in range(i, 0, -3):
            total += j ^ i
    k = n
    while k > 0:
        k -= 3
        total -= k
    return total


def ranges(a, b, c):
    s = 0
    for i in range(a, b, c):
        s = s * 3 + i
    return s


def empty_loop_keeps_type(n):
    x = 1.5
    for _ in range(n):
        x = x * 0.5
    return x


def while_else(n):
    i = 0
    while i < n:
        i += 2
    else:
        i += 100
    return i


def nested_float(n):
    acc = 0.0
    i = 0
    while i < n:
        j = 0
        while j < i:
            acc += (i - j) / (i + j + 1.0)
            j += 1
        i += 1
    return acc


def returns_none(x):
    if x:
        return
    return None


def test_branches():
    check(branches, *[(x,) for x in (-5, 0, 5, 11, 2**63 - 1)])
    check(branches, *[(x,) for x in (-5.0, 0.0, 5.5, 11.0, float("nan"))])


def test_chained():
    check(chained, *[(a, b, c) for a in (1, 2, 3) for b in (1, 2, 3) for c in (1, 2, 3)])
    check(chained, (1.0, 2, 3.5), (2.5, 2, 3.0), (float("nan"), 1, 2.0), compile_with=(float, int, float))
    check(chained_mixed, *[(a, b, c) for a in (1, 2) for b in (1, 3) for c in (0, 2)])


def test_and_or_return_operands():
    check(logic, *[(a, b) for a in (0, 1, -3) for b in (0, 2, -5)])
    check(bool_logic, *[(a, b) for a in (True, False) for b in (True, False)])
    assert refused(mixed_logic, (int, int)).name == "UNSTABLE_TYPE"


def mixed_logic(a, b):
    return (a and b) or (not a and -b)


def test_ternary():
    check(ternary, *[(x,) for x in range(-4, 5)])


def test_loops_break_continue():
    check(loops, *[(n,) for n in (0, 1, 5, 50, 600)])


def test_range_arguments():
    cases = [(0, 10, 1), (10, 0, -1), (0, 10, 3), (5, 5, 1), (-10, 10, 7), (10, -10, -4),
             (2**63 - 5, 2**63 - 1, 2), (-2**63, -2**63 + 9, 4), (0, 10, 0)]
    check(ranges, *cases)


def test_loop_types():
    check(empty_loop_keeps_type, (0,), (5,), (2000,))
    check(while_else, (0,), (7,), (-1,))
    check(nested_float, (0,), (10,), (40,))


def test_return_none():
    check(returns_none, (0,), (1,))


def unstable(n):
    x = 0
    for i in range(n):
        x = x + 0.5
    return x


def maybe_unbound(n):
    if n > 0:
        y = 1
    return y


def uses_with(lock):
    with lock:
        return 1


def imports(x):
    import math
    return math.sqrt(x)


def generator(n):
    yield n


def test_refusals_keep_cpython(monkeypatch):
    assert refused(unstable, (int,)).name == "UNSTABLE_TYPE"
    assert refused(maybe_unbound, (int,)).name == "UNBOUND_LOCAL"
    assert refused(uses_with, (object,)).name == "UNSUPPORTED_TYPE"      # objects: off by default
    monkeypatch.setenv("TIERED_OBJECTS", "1")
    assert refused(imports, (object,)).name == "UNSUPPORTED_OPCODE"
    assert refused(generator, (int,)).name == "GENERATOR"


def test_comparing_an_object_raises_as_cpython_does(monkeypatch):
    monkeypatch.setenv("TIERED_OBJECTS", "1")
    check(branches, ("a",))


def tuples(a, b):
    x, y, z = 1.5, a, b
    p, q, r, s = a * 2.0, x, y - b, z
    return p + q * r - s


def swaps(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def test_tuple_packing_and_unpacking():
    check(tuples, (1.0, 2.0), (-3.5, 0.25))
    check(swaps, (0,), (10,), (90,), (200,))


def checked_total(n, limit):
    s = 0
    for x in range(n):
        if x * x > limit:
            raise ValueError(f"{x} is over {limit}")
        s += x
    return s


def raise_and_catch(n):
    caught = 0
    for k in range(n):
        try:
            if k % 3 == 0:
                raise KeyError(k)
            caught += k
        except KeyError as exc:
            caught -= exc.args[0]
    return caught


def raise_from(x):
    try:
        if x < 0:
            raise IndexError(x)
        return 10 // x
    except (IndexError, ZeroDivisionError) as exc:
        raise ValueError("bad") from exc


def test_raise_leaves_for_the_interpreter_which_raises_it():
    rec = check(checked_total, (3, 5), (10, 30), (0, 0))
    if not forced_exits():
        assert exits_of(rec, Exit.RAISE) == 1
    check(raise_and_catch, (10,), (0,))
    check(raise_from, (4,), (-2,), (0,))


def over_tuples(n, x):
    total = 0.0
    for k in (1, 2.5, -3):                 # a constant tuple (3.12 makes [1, 2.5, -3] one too)
        total += k * n
    for y in (x, n, 0.5):                  # a tuple built from values
        total += y
    return total


def test_for_over_a_tuple_of_constants_or_values(object_tier):
    rec = check(over_tuples, (3, 1.5), (0, -2.0), (2**70, 1.0), (2, float("nan")))
    assert rec.specs[0].param_types == ("int", "float")


class Var:
    def __init__(self, v):
        self.value = v


def last_of_loop(n):
    src = None                           # None before the loop, an object after a pass through it
    for i in range(n):
        src = Var(i * 2)
    if src.value != 6:                   # n == 0: None has no .value, CPython's AttributeError
        return -src.value
    return src.value


def none_then_number_after(n):
    best = None
    for i in range(n):
        best = i * 3
    return best is None, best


def after_loop_refused(n, xs):
    last = None
    for x in xs:
        last = x
    return last ** n                     # last: None or an object; still compiles generically


def test_a_local_none_before_its_loop_and_an_object_after_it_compiles(object_tier):
    # once refused while walking the block after the loop ("reads .value of None"), before
    # the loop's back edge could tell that the local holds objects too
    rec = check(last_of_loop, (4,), (0,), (1,), (9,))
    assert rec.state == "compiled"
    if not forced_exits():
        assert exits_of(rec, Exit.RAISED) == 1                      # n == 0 raised in CPython
    rec = check(none_then_number_after, (3,), (0,), (1,))
    assert rec.state == "compiled"
    check(after_loop_refused, (2, [1, 2.5]), (1, []), (3, ["a"]), (0, [None]))


def walks_then_refuses(n):
    x = None
    for i in range(n):
        x = i
    import math                          # not compiled: IMPORT_NAME, whatever the loop says
    return math.floor(x)


def test_a_refusal_after_a_loop_keeps_its_reason_and_place(monkeypatch):
    monkeypatch.setenv("TIERED_OBJECTS", "1")
    jitted = fresh_copy(walks_then_refuses)
    assert manager.compile_for(jitted, (int,)) is None
    rec = manager.record_for(jitted)
    import dis
    at = next(i.offset for i in dis.get_instructions(walks_then_refuses) if i.opname == "IMPORT_NAME")
    assert rec.refusal.name == "UNSUPPORTED_OPCODE" and rec.refusal_detail == f"IMPORT_NAME at offset {at}"


def last_made(n):
    for i in range(n):
        dst = Var(i)
    return dst.value * 2               # unbound when the loop never ran: UnboundLocalError


def last_number(n, scale):
    for i in range(n):
        k = i * scale
    return k + 1


def test_a_local_bound_only_in_a_loop_is_read_after_it_behind_a_guard(object_tier):
    rec = check(last_made, (3,), (0,), (1,), (5,))
    assert "guard_bound" in set().union(*(s.ops for s in rec.specs))
    if not forced_exits():                             # (forced exits leave earlier)
        assert exits_of(rec, Exit.UNBOUND) >= 1        # n == 0: the interpreter raised it
    rec = check(last_number, (3, 2), (0, 7), (4, 2**62))
    assert "guard_bound" in set().union(*(s.ops for s in rec.specs))


def comprehension_shadows(name, source):
    pairs = [(name, value) for name, value in source.items() if value]   # a parameter's name
    try:
        pairs.sort()
    except TypeError:
        pass
    return name, pairs                   # the parameter again, restored after the comprehension


def test_a_comprehension_variable_named_as_a_parameter_keeps_the_parameter(object_tier):
    # once the parameter started as NULL in the build that a loop-bound local asked for: with
    # the guard on maybe-unbound locals, the read after the comprehension exited and raised
    # UnboundLocalError (enum.EnumType._convert_, imported by socket)
    rec = check(comprehension_shadows, ("N", {"a": 1, "b": 0, "c": 2}), ("M", {}), ("K", {1: 1, "x": 1}))
    assert rec.state == "compiled"
    if not forced_exits():
        assert exits_of(rec, Exit.UNBOUND) == 0
