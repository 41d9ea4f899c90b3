"""driftloop.ids.member_of equals pandas' Series.isin (what select_windows used before) on
string ids, missing values and mixed storages included, and on other dtypes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftloop.ids import member_of

CASES = {
    "arrow_strings": (["a", "b", "c", "d\nx"], ["d\nx", "a", "zz"], "string[pyarrow]", "string[pyarrow]"),
    "missing_in_both": (["a", None, "b"], ["b", None], "string[pyarrow]", "string[pyarrow]"),
    "missing_only_in_values": (["a", None, "b"], ["b"], "string[pyarrow]", "string[pyarrow]"),
    "python_and_arrow_storage": (["a", None, "b"], ["a", None], "string[python]", "string[pyarrow]"),
    "empty_among": (["a", "b"], [], "string[pyarrow]", "string[pyarrow]"),
    "integers": ([1, 2, 3], [3, 4], "int64", "int64"),
    "objects": (["a", 1, None], ["a", None], object, object),
}


@pytest.mark.parametrize("name", list(CASES))
def test_member_of_equals_isin(name):
    values, among, vtype, atype = CASES[name]
    v, a = pd.Series(values, dtype=vtype), pd.Series(among, dtype=atype)
    got = member_of(v, a)
    assert got.dtype == bool
    assert np.array_equal(got, v.isin(a).to_numpy(dtype=bool))


def test_many_ids():
    rng = np.random.default_rng(2)
    ids = pd.Series([f"w{i:06d}" for i in rng.permutation(20_000)], dtype="string")
    among = ids.sample(7_000, random_state=1)
    assert np.array_equal(member_of(ids, among), ids.isin(among).to_numpy())
    assert member_of(ids, among).sum() == 7_000
