"""A mutant judged equivalent in docs/mutation-testing.md keeps that judgement only while the
mutant of that name still does what the doc says: mutmut renumbers a function's mutants when
the function changes, and a judgement must not silently pass to another mutant."""

from pathlib import Path

from mutants import Judgement, judged_equivalent, still_holds

# A mutant's diff as mutmut shows it (`mutmut show NAME`), for one call with keyword arguments.
_DIFF = """--- subgraphs/points/expiry/service.py
+++ subgraphs/points/expiry/service.py
@@ -1,5 +1,5 @@
 return LedgerDraft(
     source="expiry",
-    drain_lots=tuple(lots),
+{replacement}
 )"""


def _diff(replacement: str | None) -> str:
    diff = _DIFF.replace("{replacement}", replacement or "")
    return diff if replacement is not None else diff.replace("\n+\n", "\n")


def test_a_judgement_on_the_code_a_mutant_writes_holds_while_it_writes_that_code() -> None:
    judgement = Judgement("writes", "drain_lots=None,")
    assert still_holds(judgement, _diff("    drain_lots=None,"))
    assert not still_holds(judgement, _diff("    drain_lots=tuple(None),"))


def test_a_judgement_on_a_deletion_holds_only_for_the_mutant_that_deletes_it() -> None:
    judgement = Judgement("deletes", "drain_lots=tuple(lots),")
    assert still_holds(judgement, _diff(None))
    # Another mutant of the same line replaces it: the judgement was not about that one.
    assert not still_holds(judgement, _diff("    drain_lots=None,"))
    # A mutant elsewhere in the call, which leaves this line alone.
    other = _diff(None).replace("-    drain_lots=tuple(lots),", "     drain_lots=tuple(lots),")
    other = other.replace('     source="expiry",', '-    source="expiry",')
    assert not still_holds(judgement, other)


def test_the_doc_names_each_equivalent_with_what_it_does(tmp_path: Path) -> None:
    doc = tmp_path / "mutation-testing.md"
    doc.write_text(
        "# Mutation testing\n\n## Equivalent mutants\n\n"
        "- `pkg.mod.x_f__mutmut_3` writes `bonus_claimed = None`: read only through `not`.\n"
        "- `pkg.mod.x_f__mutmut_9` deletes `drain_lots=tuple(lots),`: the same lots.\n"
        "- `pkg.mod.x_f__mutmut_12`: an old entry without its code, which counts for nothing.\n"
        "\n## Survivors left on purpose\n\n"
        "- `pkg.mod.x_g__mutmut_1` writes `log.info(None)`: not equivalent.\n"
    )
    assert judged_equivalent(doc) == {
        "pkg.mod.x_f__mutmut_3": Judgement("writes", "bonus_claimed = None"),
        "pkg.mod.x_f__mutmut_9": Judgement("deletes", "drain_lots=tuple(lots),"),
    }
