"""The op table: one definition per op, with its lowering, checked when tiered.compiler.ops is imported."""
import dataclasses

import pytest

from tiered.compiler import infer, ops
from tiered.compiler.ops import INT, OPS, define
from tiered.compiler.ops.common import capi_call


def test_every_op_has_its_lowering_and_declared_attrs():
    for name, spec in OPS.items():
        assert spec.name == name and callable(spec.lower), name
        assert all(isinstance(k, str) for k in spec.attrs), name


def test_a_second_definition_of_an_op_is_refused():
    before = OPS["int_add"]
    with pytest.raises(ImportError, match="defined twice"):
        define("int_add", 2, INT, lower=lambda e, v: None)
    assert OPS["int_add"] is before


def test_the_check_refuses_an_op_without_lowering_or_contradicting_its_capi_row():
    bad = [dataclasses.replace(OPS["int_and"], name="no_lowering", lower=None),
           # PyObject_GetIter may run Python code: an op calling it must say so
           dataclasses.replace(OPS["obj_iter"], name="quiet_iter", python=False, lower=capi_call("PyObject_GetIter"))]
    for spec in bad:
        OPS[spec.name] = spec
        try:
            with pytest.raises(ImportError):
                ops._check()
        finally:
            del OPS[spec.name]
    ops._check()


def test_infer_reads_the_numeric_rules_from_the_ops():
    assert infer.BINARY["+", "int"] == "int_add" and infer.BINARY["&", "bool"] == "bool_and"
    assert infer.UNARY["-", "float"] == "float_neg" and ("~", "bool") not in infer.UNARY
    assert all(OPS[name].py == sym for (sym, _), name in infer.BINARY.items())
