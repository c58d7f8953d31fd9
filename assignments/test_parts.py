"""One test per graded part (see conftest.py): `python -m pytest assignments -m a1_render`."""


def test_part(graded_part, grade_part):
    name, part = graded_part
    result = grade_part(name, part)
    assert not result["message"], f"{name} {part} ({result['max']} points): {result['message']}"
