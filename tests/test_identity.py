"""Resident ID numbers: checksum, masking, sex."""

from __future__ import annotations

import datetime as dt

import pytest

from counter_app import identity


def test_a_made_number_is_valid_and_masks_to_6_and_4():
    certno = identity.make("340202", dt.date(1985, 6, 2), 44)
    assert identity.normalise(certno) == certno and len(certno) == 18
    assert identity.mask(certno) == certno[:6] + "********" + certno[-4:]


def test_published_example_number():
    assert identity.check_digit("11010519491231002") == "X"  # GB 11643 worked example
    assert identity.normalise("11010519491231002x") == "11010519491231002X"


@pytest.mark.parametrize(
    "bad,reason",
    [
        ("11010519491231002", "18位"),
        ("110105194912310021", "校验位错误"),
        ("110105194913310029", "出生日期无效"),
    ],
)
def test_bad_numbers_say_why(bad, reason):
    with pytest.raises(identity.CertnoError, match=reason):
        identity.normalise(bad)


def test_sex_from_the_17th_digit():
    assert identity.is_male(identity.make("340202", dt.date(1980, 1, 1), 13))
    assert not identity.is_male(identity.make("340202", dt.date(1980, 1, 1), 14))
