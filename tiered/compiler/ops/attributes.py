"""Compiler ops on attributes: instance loads, stores, method guards → LLVM IR lines, as CPython's specialisations.

Each op checks what CPython's own specialisation checks (the class's version tag, inline
values or a __slots__ member, the shared keys' version) and otherwise calls the C-API, which
raises exactly as CPython does; in a frameless specialisation a miss exits instead.
"""
from ...reasons import Exit
from ...cpython import capi
from ...cpython import V
from ...cpython import dicts
from . import FLOAT, NONE, OBJ, is_obj, op
from .common import (box_call, branch_if, capi_call, entry_value, field, generic, join_slow_path, maybe_null_call,
                     pointer, status_call, type_of)
from .objects import release, store_new


@op("guard_method", 1, None, Exit.TYPE_GUARD, pure=False, attrs=("cls", "version", "keys"))  # cls: a weakref
def _guard_method(e, v):
    """Exit unless a method of the class is what CPython's method load would find: the
    object's class has the version the class had (versions are unique and never given again,
    so that version names the class, as it does for CPython's LOAD_ATTR_METHOD_*; a class that
    died matches nothing), the object keeps its attributes inline (no __dict__ of its own) and
    the class's shared keys have their version (no attribute of that name).  keys 0: a class
    whose instances have no __dict__ at all, where the version says it all."""
    x = e.ref(v.args[0])
    ty = type_of(e, x)
    e.guard(e.op(f"icmp ne i32 {field(e, ty, capi.ATTRIBUTES[0], 'i32')}, {v.attrs['version']}"), v)
    if not v.attrs["keys"]:               # instances without a __dict__: the class says it all
        e.alias(v, x)
        return
    keys = field(e, ty, capi.CACHED_KEYS, "ptr")
    e.guard(e.op(f"icmp eq ptr {keys}, null"), v)
    e.guard(e.op(f"icmp ne i32 {field(e, keys, capi.DK_VERSION, 'i32')}, {v.attrs['keys']}"), v)
    e.guard(e.op(f"xor i1 {_has_inline_values(e, x)[0]}, true"), v)
    e.alias(v, x)


# cls: a weakref to the class; version: its tag; name: the method's name
# cls: a weakref to the class; version: its tag; name: the method's name; keys: the version of
# the class's shared keys, without that name (0: instances keeping their attributes inline exit)
@op("guard_method_dict", 1, None, Exit.TYPE_GUARD, pure=False, attrs=("cls", "version", "name", "keys"))
def _guard_method_dict(e, v):
    """Exit unless a method of the class is what CPython's method load would find, on an
    instance laid out either way: the class's version (which names the class), and then
    its inline attributes' shared keys with their version (no attribute of that name), or its
    own __dict__, a table of str keys (a lookup that runs no Python code), without that name."""
    x = e.ref(v.args[0])
    name, keys_version = v.attrs["name"], v.attrs.get("keys") or 0
    e.m.keep(name)
    ty = type_of(e, x)
    e.guard(e.op(f"icmp ne i32 {field(e, ty, capi.ATTRIBUTES[0], 'i32')}, {v.attrs['version']}"), v)
    inline, own, done = (e.tmp()[1:] for _ in range(3))
    e.line(f"br i1 {_has_inline_values(e, x)[0]}, label %{inline}, label %{own}")
    e.label(inline)
    if keys_version and capi.CACHED_KEYS is not None:
        shared = field(e, ty, capi.CACHED_KEYS, "ptr")
        e.guard(e.op(f"icmp eq ptr {shared}, null"), v)
        e.guard(e.op(f"icmp ne i32 {field(e, shared, capi.DK_VERSION, 'i32')}, {keys_version}"), v)
    else:
        e.guard("true", v)
    e.line(f"br label %{done}")
    e.label(own)
    d = _instance_dict(e, x, lambda bad: e.guard(bad, v))
    keys = field(e, d, capi.DICT_KEYS[0], "ptr")
    e.guard(e.op(f"icmp eq i8 {field(e, keys, capi.DICT_KEYS[1], 'i8')}, 0"), v)
    found = e.op(f"call ptr @PyDict_GetItemWithError(ptr {d}, ptr {pointer(name)})")
    e.guard(e.op(f"icmp ne ptr {found}, null"), v)
    e.line(f"br label %{done}")
    e.label(done)
    e.alias(v, x)


def _instance_dict(e, x, miss_if):
    """Instance x's own __dict__ (of a class with a managed dict); miss_if(i1) leaves when it
    has none (3.12: it keeps inline values instead)."""
    offset, tagged = dicts.INSTANCE_DICT
    word = field(e, x, offset)
    bad = e.op(f"icmp eq i64 {word}, 0")
    if tagged:                            # inline values, not a dict
        low = e.op(f"and i64 {word}, 1")
        bad = e.op(f"or i1 {bad}, {e.op(f'icmp ne i64 {low}, 0')}")
    miss_if(bad)
    return e.op(f"inttoptr i64 {word} to ptr")


def _instance_slot(e, x, kind, index, miss, name):
    """The address of an attribute's place in an instance: a __slots__ member at its byte
    offset, the index-th inline value (branching to label `miss` when the instance keeps
    no inline values: a __dict__ of its own), or the value of the index-th entry of its own
    __dict__ (LOAD_ATTR_WITH_HINT; `miss` unless that entry's key is the name)."""
    if kind.endswith("_SLOT"):
        return e.op(f"getelementptr i8, ptr {x}, i64 {index}")
    if kind in dicts.HINTED:
        return _hinted_slot(e, x, index, name, lambda bad: branch_if(e, bad, miss))
    have, values = _has_inline_values(e, x)
    inline = e.tmp()[1:]
    e.line(f"br i1 {have}, label %{inline}, label %{miss}")
    e.label(inline)
    return e.op(f"getelementptr ptr, ptr {values}, i64 {index}")


def _hinted_slot(e, x, index, name, miss_if):
    """The address of the value of entry `index` of instance x's own __dict__, checked as
    LOAD_ATTR_WITH_HINT checks it (x has a dict, a table of str keys, that many entries, the
    name at that entry); miss_if(i1) leaves wherever a check fails."""
    keys = field(e, _instance_dict(e, x, miss_if), capi.DICT_KEYS[0], "ptr")
    return entry_value(e, keys, index, name, miss_if)


def _has_inline_values(e, x):
    """Whether an instance keeps its attributes inline (i1), and the pointer to them."""
    _, values_kind, values_offset = capi.ATTRIBUTES
    word = field(e, x, values_offset)
    if values_kind == "tagged":          # the word is values - 1, tagged by its low bit
        return (e.op(f"icmp ne i64 {e.op(f'and i64 {word}, 1')}, 0"),
                e.op(f"inttoptr i64 {e.op(f'add i64 {word}, 1')} to ptr"))
    return e.op(f"icmp ne i64 {word}, 0"), e.op(f"inttoptr i64 {word} to ptr")


# name: the attribute; cache: CPython's specialisation (kind, type version, index) or none
@op("getattr", 1, OBJ, Exit.RAISED, pure=False, raises=True, python=True, frameless=True,
    attrs=("name", "cache", "borrow"))   # borrow: passes/refcounts dropped its reference
def _getattr(e, v):
    """obj.name: where CPython had specialised the instruction, read the attribute as it does
    (the same type-version, inline-values or slot guards); anything else, and every guard
    miss, calls PyObject_GetAttr, which raises exactly as CPython does."""
    cache = v.attrs.get("cache")
    if cache is None or capi.ATTRIBUTES is None:
        return capi_call("PyObject_GetAttr")(e, v)
    kind, version, index = cache
    if e.fn.attrs.get("frameless"):
        return _getattr_frameless(e, v, kind, version, index)
    e.force_point(v)
    x = e.ref(v.args[0])
    fast, slow, hit, done = (e.tmp()[1:] for _ in range(4))
    same = e.op(f"icmp eq i32 {field(e, type_of(e, x), capi.ATTRIBUTES[0], 'i32')}, {version}")
    e.line(f"br i1 {same}, label %{fast}, label %{slow}")
    e.label(fast)
    slot = _instance_slot(e, x, kind, index, slow, v.attrs["name"])
    item = e.op(f"load ptr, ptr {slot}")
    e.line(f"br i1 {e.op(f'icmp ne ptr {item}, null')}, label %{hit}, label %{slow}")
    e.label(hit)
    owned = e.borrow_slots.get(v.id)      # a borrowed read (passes/refcounts.py): no reference
    if owned is None:
        e.line(f"call void @tiered_incref(ptr {item})")
    else:
        e.line(f"store ptr null, ptr {owned}")
    e.line(f"br label %{done}")
    e.label(slow)
    e.m.keep(v.attrs["name"])
    token = e.line_enter(v)
    r = e.op(f"call ptr @PyObject_GetAttr(ptr {x}, ptr {pointer(v.attrs['name'])})")
    e.line_leave(token)
    if owned is not None:                 # the slow path's new reference: released at its decref
        e.line(f"store ptr {r}, ptr {owned}")
    join_slow_path(e, v, r, item, hit, done)


def _getattr_frameless(e, v, kind, version, index):
    """obj.name in a frameless specialisation: CPython's specialised read, and an exit (no
    lookup that could run Python code) wherever it would miss."""
    slot = _frameless_slot(e, v, e.ref(v.args[0]), kind, version, index)
    item = e.op(f"load ptr, ptr {slot}")
    e.guard(e.op(f"icmp eq ptr {item}, null"), v, reason=Exit.TYPE_GUARD)
    if v.id in e.borrow_slots:            # a borrowed read (passes/refcounts.py)
        e.line(f"store ptr null, ptr {e.borrow_slots[v.id]}")
    else:
        e.line(f"call void @tiered_incref(ptr {item})")
    e.alias(v, item)


_SETATTR = status_call("PyObject_SetAttr", name=True)       # the generic store


@op("obj_delattr", 1, NONE, Exit.RAISED, pure=False, raises=True, python=True, attrs=("name",))
def _delattr(e, v):
    """del obj.name: PyObject_SetAttr with a NULL value (what PyObject_DelAttr is); it raises
    CPython's AttributeError."""
    name = v.attrs["name"]
    e.m.keep(name)
    r = generic(e, v, lambda ops: e.op(f"call i32 @PyObject_SetAttr(ptr {ops[0]}, ptr {pointer(name)}, ptr null)"))
    e.guard(e.op(f"icmp slt i32 {r}, 0"), v, with_exception=True, reason=v.spec.exit)


def _reuse_float(e, v, owner, version, index):
    """Before a float is boxed for a store: when the attribute holds an exact float that nothing
    else references (count 1), write the new value into it and skip the store (as CPython's
    BINARY_OP_ADD_FLOAT reuses an operand it owns alone: nobody can see the difference); the
    code after this continues with the ordinary store otherwise.  The label where the reused
    case joins the ordinary store's end."""
    check, inline, same_float, reuse, go = (e.tmp()[1:] for _ in range(5))
    same = e.op(f"icmp eq i32 {field(e, type_of(e, owner), capi.ATTRIBUTES[0], 'i32')}, {version}")
    e.line(f"br i1 {same}, label %{check}, label %{go}")
    e.label(check)
    have, values = _has_inline_values(e, owner)
    e.line(f"br i1 {have}, label %{inline}, label %{go}")
    e.label(inline)
    old = e.op(f"load ptr, ptr {e.op(f'getelementptr ptr, ptr {values}, i64 {index}')}")
    e.line(f"br i1 {e.op(f'icmp ne ptr {old}, null')}, label %{same_float}, label %{go}")
    e.label(same_float)
    count = field(e, old, 0, "i32" if V.IMMORTAL_OBJECTS else "i64")
    alone = e.op(f"icmp eq {'i32' if V.IMMORTAL_OBJECTS else 'i64'} {count}, 1")
    is_float = e.op(f"icmp eq ptr {type_of(e, old)}, @PyFloat_Type")
    e.line(f"br i1 {e.op(f'and i1 {alone}, {is_float}')}, label %{reuse}, label %{go}")
    e.label(reuse)
    e.line(f"store double {e.ref(v.args[1])}, ptr {e.op(f'getelementptr i8, ptr {old}, i64 {capi.OB_FVAL}')}")
    after = e.tmp()[1:]
    e.line(f"br label %{after}")
    e.label(go)
    return after


@op("obj_setattr", 2, NONE, Exit.RAISED, pure=False, raises=True, python=True, attrs=("name", "cache", "resumable"))
def _setattr(e, v):
    """obj.name = value: where CPython had specialised the instruction, store it as it does
    (the same type-version and inline-values or slot checks; the old value is released after
    the store); an attribute not yet set, anything else and every miss calls PyObject_SetAttr,
    which raises exactly as CPython does."""
    cache = v.attrs.get("cache")
    if cache is None or capi.ATTRIBUTES is None:
        return _SETATTR(e, v)
    kind, version, index = cache
    if kind in dicts.HINTED:              # into the instance's own __dict__: the dict's own store
        return _setattr_hinted(e, v, version)
    if e.fn.attrs.get("frameless"):
        return _setattr_frameless(e, v, kind, version, index)
    e.force_point(v)
    owner, x = e.ref(v.args[0]), v.args[1]
    after = _reuse_float(e, v, owner, version, index) if x.type == FLOAT and not kind.endswith("_SLOT") else None
    if is_obj(x.type):                      # the reference the attribute will own
        new = e.ref(x)
        e.line(f"call void @tiered_incref(ptr {new})")
    else:
        new = box_call(e, x)
        e.guard(e.op(f"icmp eq ptr {new}, null"), v, with_exception=True, reason=v.spec.exit)
    fast, slow, done = (e.tmp()[1:] for _ in range(3))
    same = e.op(f"icmp eq i32 {field(e, type_of(e, owner), capi.ATTRIBUTES[0], 'i32')}, {version}")
    e.line(f"br i1 {same}, label %{fast}, label %{slow}")
    e.label(fast)
    slot = _instance_slot(e, owner, kind, index, slow, v.attrs["name"])
    old = e.op(f"load ptr, ptr {slot}")
    if not kind.endswith("_SLOT"):
        # not set yet: CPython also records the insertion order then; PyObject_SetAttr does that
        store = e.tmp()[1:]
        e.line(f"br i1 {e.op(f'icmp eq ptr {old}, null')}, label %{slow}, label %{store}")
        e.label(store)
    e.line(f"store ptr {new}, ptr {slot}")
    release(e, v, old, maybe_null=True)
    e.line(f"br label %{done}")
    e.label(slow)
    e.m.keep(v.attrs["name"])
    token = e.line_enter(v)
    r = e.op(f"call i32 @PyObject_SetAttr(ptr {owner}, ptr {pointer(v.attrs['name'])}, ptr {new})")
    e.line_leave(token)
    e.line(f"call void @tiered_discard(ptr {new})")      # an exception may be pending
    e.guard(e.op(f"icmp slt i32 {r}, 0"), v, with_exception=True, reason=v.spec.exit)
    e.line(f"br label %{done}")
    e.label(done)
    if after:
        e.line(f"br label %{after}")
        e.label(after)


def _setattr_hinted(e, v, version):
    """obj.name = value where CPython stores into the instance's own __dict__: while the class
    has the version CPython checked (no descriptor or __setattr__ of that name), the store is
    PyDict_SetItem on that dict, what PyObject_SetAttr does for it (only a destructor of the old
    value may run); any other object, and an instance without its dict, PyObject_SetAttr.  In a
    frameless specialisation a miss of the version exits instead."""
    name = pointer(v.attrs["name"])
    e.m.keep(v.attrs["name"])
    if e.fn.attrs.get("frameless"):
        ty = type_of(e, e.ref(v.args[0]))
        e.guard(e.op(f"icmp ne i32 {field(e, ty, capi.ATTRIBUTES[0], 'i32')}, {version}"), v, reason=Exit.TYPE_GUARD)
        return _SETATTR(e, v)

    def call(ops):
        """The dict's store behind the version, the generic one elsewhere."""
        owner, value = ops
        fast, slow, done = (e.tmp()[1:] for _ in range(3))
        same = e.op(f"icmp eq i32 {field(e, type_of(e, owner), capi.ATTRIBUTES[0], 'i32')}, {version}")
        e.line(f"br i1 {same}, label %{fast}, label %{slow}")
        e.label(fast)
        d = _instance_dict(e, owner, lambda bad: branch_if(e, bad, slow))
        stored = e.op(f"call i32 @PyDict_SetItem(ptr {d}, ptr {name}, ptr {value})")
        fast_end = e.cur
        e.line(f"br label %{done}")
        e.label(slow)
        generic_ = e.op(f"call i32 @PyObject_SetAttr(ptr {owner}, ptr {name}, ptr {value})")
        e.line(f"br label %{done}")
        e.label(done)
        return e.op(f"phi i32 [{stored}, %{fast_end}], [{generic_}, %{slow}]")
    r = generic(e, v, call)
    e.guard(e.op(f"icmp slt i32 {r}, 0"), v, with_exception=True, reason=v.spec.exit)


def _setattr_frameless(e, v, kind, version, index):
    """obj.name = value in a (resumable) frameless specialisation: CPython's specialised store,
    and an exit before any effect wherever it would miss (an attribute not set yet too: CPython
    also records the insertion order then)."""
    slot = _frameless_slot(e, v, e.ref(v.args[0]), kind, version, index)
    if not kind.endswith("_SLOT"):
        e.guard(e.op(f"icmp eq ptr {e.op(f'load ptr, ptr {slot}')}, null"), v, reason=Exit.TYPE_GUARD)
    store_new(e, v, slot, v.args[1], maybe_null=True)


def _frameless_slot(e, v, x, kind, version, index):
    """Where instance x keeps the attribute CPython's cache describes, exiting (before any
    effect) unless x's class has the cached version and, for inline values, x keeps them (for
    its own __dict__: unless the hinted entry holds the name)."""
    miss = Exit.TYPE_GUARD
    e.guard(e.op(f"icmp ne i32 {field(e, type_of(e, x), capi.ATTRIBUTES[0], 'i32')}, {version}"), v, reason=miss)
    if kind.endswith("_SLOT"):
        return e.op(f"getelementptr i8, ptr {x}, i64 {index}")
    if kind in dicts.HINTED:
        return _hinted_slot(e, x, index, v.attrs["name"], lambda bad: e.guard(bad, v, reason=miss))
    have, values = _has_inline_values(e, x)
    e.guard(e.op(f"xor i1 {have}, true"), v, reason=miss)
    return e.op(f"getelementptr ptr, ptr {values}, i64 {index}")


TYPE_SUBCLASS = 1 << 31            # Py_TPFLAGS_TYPE_SUBCLASS: PyType_Check


@op("super_attr", 3, OBJ, Exit.RAISED, pure=False, raises=True, python=True, attrs=("name",))
def _super_attr(e, v):
    """super(class, self).name (operands: super, class, self; no name: the super object
    itself): the super object made through vectorcall with both arguments, then
    PyObject_GetAttr; either raising exits with its exception.  A class that is not a type
    exits first (TYPE_GUARD): CPython's zero-argument super() then says so in its own words."""
    name = v.attrs["name"]
    if name is not None:
        e.m.keep(name)
    cls = e.ref(v.args[1])
    if is_obj(v.args[1].type):
        flags = e.op(f"call i64 @PyType_GetFlags(ptr {type_of(e, cls)})")
        e.guard(e.op(f"icmp eq i64 {e.op(f'and i64 {flags}, {TYPE_SUBCLASS}')}, 0"), v, reason=Exit.TYPE_GUARD)
    argv = e.entry_alloca("[2 x ptr]")

    def call(ops):
        """Make the super object, read the attribute, drop the super object."""
        for k, o in enumerate(ops[1:]):
            e.line(f"store ptr {o}, ptr {e.op(f'getelementptr ptr, ptr {argv}, i64 {k}')}")
        sup = e.op(f"call ptr @PyObject_Vectorcall(ptr {ops[0]}, ptr {argv}, i64 2, ptr null)")
        if name is None:
            return sup
        return maybe_null_call(e, sup, lambda s: e.op(f"call ptr @PyObject_GetAttr(ptr {s}, ptr {pointer(name)})"))
    r = generic(e, v, call)
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    e.alias(v, r)


# cls: the class (kept alive: a global guard keeps it already); version: its tag when compiled
@op("guard_class_version", 0, None, Exit.TYPE_GUARD, pure=False, frameless=True, attrs=("cls", "version"))
def _guard_class_version(e, v):
    """Exit unless the class still has its version tag: nothing in it or its bases changed, so
    an attribute read through it is still what it was (CPython's LOAD_ATTR_CLASS guard)."""
    cls = v.attrs["cls"]
    e.m.keep(cls)
    e.guard(e.op(f"icmp ne i32 {field(e, pointer(cls), capi.ATTRIBUTES[0], 'i32')}, {v.attrs['version']}"), v)
