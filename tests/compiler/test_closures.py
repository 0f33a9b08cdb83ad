"""Closures: free variables read (unboxed under a guard when they hold a number), cells written
(object tier), an empty cell, a cell rebound to another type, and calls into closures."""
import pytest

from tests.support import Exit, assert_same, same_value, check, exits_of, forced_exits, fresh_copy, outcome, refused
from tiered.reasons import Refusal
from tiered.runtime import manager


def scaled(scale, offset):
    def kernel(n):
        s = 0.0
        for i in range(n):
            s += i * scale + offset
        return s
    return kernel


def test_free_variables_holding_numbers_compile_in_the_numeric_tier():
    k = scaled(0.5, 2)
    rec = check(k, (100,), (0,), (-3,))
    assert "cell_get" in rec.specs[0].ops
    check(scaled(True, -7), (50,))
    check(scaled(2**62, 1), (3,))                # i * scale overflows 64 bits: an exit, CPython's int


def rebinder():
    step = 1

    def kernel(n):
        total = 0
        for i in range(n):
            total += step
        return total

    def rebind(value):
        nonlocal step
        step = value

    def forget():
        nonlocal step
        del step
    return kernel, rebind, forget


def test_a_free_variable_rebound_to_another_type_exits_and_runs_as_cpython_does():
    kernel, rebind, forget = rebinder()
    jitted = fresh_copy(kernel)                  # the same cells
    manager.record_for(jitted).eager = True
    assert manager.compile_for(jitted, (int,)) is not None
    rec = manager.record_for(jitted)
    assert jitted(10) == 10 and rec.native_calls == 1
    for value in (2.5, "x", 2**64, True):
        rebind(value)                             # the guard on the cell's class fails
        for n in (0, 3):
            assert_same(outcome(kernel, (n,)), outcome(jitted, (n,)), (n, value))
    forget()                                      # the cell is empty: NameError, CPython's message
    for n in (0, 3):
        assert_same(outcome(kernel, (n,)), outcome(jitted, (n,)), (n, "empty"))
    if not forced_exits():
        assert exits_of(rec, Exit.TYPE_GUARD) >= 3 and exits_of(rec, Exit.EMPTY_CELL) >= 1


def empty_cell():
    def kernel(n):
        s = 0
        for i in range(n):
            s += i
        return s + missing                        # noqa: F821 - never bound
    if False:
        missing = 1
    return kernel


@pytest.mark.usefixtures("object_tier")
def test_a_cell_never_bound_raises_cpythons_name_error():
    rec = check(empty_cell(), (5,), (0,))
    if not forced_exits():
        assert exits_of(rec, Exit.EMPTY_CELL) == 2


def counter():
    count = 0

    def add(xs, start):
        nonlocal count
        count = start
        for x in xs:
            count += x
        return count

    def peek():
        return count
    return add, peek


@pytest.mark.usefixtures("object_tier")
def test_a_cell_written_in_a_loop_is_seen_by_the_outer_function_and_after_exits():
    add, peek = counter()
    rec = check(add, ([1, 2, 3], 0), ([4.5, 1], 1), ([2**63, 1], 0), ([1, "x"], 2), ([], -1))
    assert "cell_set" in set().union(*(s.ops for s in rec.specs))
    jitted = fresh_copy(add)                      # the same cells as add and peek
    manager.record_for(jitted).eager = True
    assert manager.compile_for(jitted, (list, int)) is not None
    for xs, start in (([1, 2], 5), ([0.5], 0), ([2**62, 2**62], 0)):
        assert_same(outcome(add, (xs, start)), outcome(jitted, (xs, start)), (xs, start))
        got = peek()
        add(xs, start)
        assert same_value(peek(), got)            # what native code stored is in the cell


def summer():
    total = 0

    def bump(n, start):
        nonlocal total
        total = start                             # the runs compared do not depend on each other
        for i in range(n):
            total += i
        return total
    return bump


def test_a_cell_written_needs_the_object_tier():
    assert refused(summer(), (int, int)) is Refusal.CLOSURE


@pytest.mark.usefixtures("object_tier")
def test_a_cell_of_numbers_written_in_the_object_tier():
    bump = summer()
    rec = check(bump, (10, 0), (0, 5), (3, 2**63 - 2), (4, 0.5))
    assert {"cell_get", "cell_set"} <= rec.specs[0].ops



def weigher(w):
    def weigh(x):
        s = 0.0
        for i in range(8):
            s += x * w + i
        return s
    return weigh


def test_the_jit_decorator_and_a_second_signature_see_only_the_arguments_not_the_cells():
    import tiered
    plain, k = weigher(1.5), tiered.jit(weigher(1.5))
    assert k(2) == plain(2)                        # compiled at this call, for its argument's type
    rec = manager.record_for(k)
    assert [s.param_types for s in rec.specs] == [("int",)], (rec.refusal, rec.refusal_detail)
    assert k(3) == plain(3) and rec.native_calls == 1
    for _ in range(200):                           # misses for a float: a second specialisation
        assert k(2.5) == plain(2.5)
        if len(rec.specs) == 2:
            break
    assert rec.refusal is None and sorted(s.param_types for s in rec.specs) == [("float",), ("int",)]


def best(rows, k):
    out = []
    for r in rows:
        out.append(max(r, key=lambda x: (x * k) % 7))      # a closure over a parameter
    return out


def made(n, base):
    fs = []
    for i in range(n):
        def add(x, i=i, *, scale=2):
            return (x + i + base) * scale
        fs.append(add)
    described = []
    for f in fs:
        described.append((f(1), f.__name__, f.__qualname__, f.__defaults__, f.__kwdefaults__,
                          [c.cell_contents for c in f.__closure__], f.__globals__ is globals(),
                          f.__module__, f.__doc__))
    return described


@pytest.mark.usefixtures("object_tier")
def test_functions_made_natively_are_cpythons_own():
    rec = check(best, ([[1, 2, 3], [4, 5, 6]], 3), ([], 1), ([[2.5, 1]], 2), ([[1, "a"]], 1))
    assert "make_function" in rec.specs[0].ops
    rec = check(made, (4, 10), (0, 1), (2, 2**70))
    assert "make_function" in rec.specs[0].ops


def rebound_later(k, xs):
    total = 0
    get = lambda: k                                          # noqa: E731
    for x in xs:
        total += get()
        k = x                                                # the lambda sees the new value
    return total


def annotated(n):
    out = []
    for i in range(n):
        def f(x: int) -> int:
            return x
        out.append(f)
    return len(out)


@pytest.mark.usefixtures("object_tier")
def test_a_captured_parameter_lives_in_its_cell_and_annotations_stay_in_cpython():
    rec = check(rebound_later, (1, [2, 3, 4]), (5, []), (0, [1.5, "x"]))
    assert {"cell_set", "make_function"} <= rec.specs[0].ops
    assert refused(annotated, (int,)) is Refusal.UNSUPPORTED_OPCODE


def raises_at_once(x):
    def inner():
        return x
    raise ValueError(inner())                # the first block raises: left to CPython from its start


def keeps_len(xs):
    holder = None
    get = lambda: holder                     # noqa: E731
    for x in xs:
        holder = len                         # a global (builtin) stored in a cell
    return get() is len


@pytest.mark.usefixtures("object_tier")
def test_cells_with_a_raising_first_block_and_a_builtin_stored():
    rec = check(raises_at_once, (3,), ("a",))
    assert rec.exits.get(Exit.RAISE, 0) > 0 or forced_exits()
    check(keeps_len, ([1, 2],), ([],))
