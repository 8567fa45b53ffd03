"""Every section's grid file on the cpu profile gives the runs its notebook ran on its defaults
before the grids moved out of the profiles (run ids computed then, with the old code, which had
no `threads` field and no results version: `legacy_id` hashes a config as it did): the studies
in file order, then the section 4 base runs not among them. A change here changes what a
section runs."""
from __future__ import annotations

import pytest

from legacy_ids import legacy_id
from repro.runs.grid_files import SECTIONS, section_grid, section_study

PINNED = {
    "selection_strategies": (
        "d9315349ad0473b5 7e7b85c41b51c3e5 9abc8d0e391ade7c 25762ffd733dd462 1bc9953e68e34515 41b0c3cfcfd8b1f7 "
        "dd4a3403f1f34b28 a7d5c3c4263c8e30 448aa6a27567456e 02b6ededa9345c32 5d03aaa5805e129e 788e172af62c69a5 "
        "26e710d564bde37f 870aa5dfee5e6fd2 fbd11bf703eacf91 91b899f89c1cd98b 4ac557f8caeb4725 0a1b5d3efbd8a266 "
        "d07e46599c75299b bdf53f188cb2feb2 3fd104be052b623b 67597aac38587704 21252c3016c9460c 251dea420bc55723 "
        "55285992c11526fc 9742a25f83cbaca0 3d4d29ef9b1e0c71 59f8cd4cad34b8d7 2e13defb1798b09c 6f7fb2163a2ea86e "
        "d68eda9174e1fc0a 7be9530600d9d5cc b257c38aa7222613 f8b3794615c46aac 285e11c353f221ff bb1db1e07888197f"
    ).split(),
    "learning_rate": (
        "c421216eb25f4793 cd0536dd2022f4f4 122cf890365950fd 5b03642309f891b3 7aadf6a9d0c8996a faaa9e15cb005660 "
        "eb08dcd233efedec dcf523d587fcf99d d9dc94651aa6edc4 20c25033d7a3d58a 213bfc9f2a2921c5 102e7e11e6c0b60e "
        "c3e934d3b41ef782 d6053ce3671613dd 79bb507035a904fe 968f80c98dd8e6f8 fde339b0eea5c801 f69cda915d290b67"
    ).split(),
    "subset_size": (
        "c421216eb25f4793 cd0536dd2022f4f4 122cf890365950fd 5b03642309f891b3 7aadf6a9d0c8996a faaa9e15cb005660 "
        "eb08dcd233efedec dcf523d587fcf99d d9dc94651aa6edc4 591038019ef354d7 fed134c300e3fcab c4c3e4d19f3496cb "
        "15a696aaf8462c5b c5888fa7c4f783c3 919014bca419d7df 3588be79229bbc47 f6328f8628b148da 1d1ec37ea3ba589d "
        "50dc6ceafe6e64b9 9afd30e98dc55afb 9722d4d665419d95 65c6657b53e9c97c a756f03ff77491e3 0cea87a650d1ab78 "
        "ff6cd44be9ff83e8 e70fd0b3830f1c00 6885d83c600e2a6a 3801455f25f63e43 ed512ebd1f425685 69b597780c8840ba "
        "0a8353f041e223a2 2087aa37d787d395 6889d26f7e15692e 44ab95fe1efb4697 bd38aa1d00e3bb28 051f178d1d661427 "
        "233ac0daa7f7b308 2f0556c78248aee4 65aaf467196b56a4 890f26f0074fe93f afc506a18f6ce8cb 1585de58b4bda525 "
        "3f08e6b40dabb007 eb03220db1ca9076 9591d07d1c105056 c9928ce74527c642 9e55c20f724cef9c 7cbb50922b7ed96a "
        "77dd8275daef58a5 1bfd5892d736d0a0 f160a4579640914d 6ac98e5a71bb12cf 5a552b076d7af0f7 c7dfeee2aa6cffb7 "
        "09224c40ba0102d8 a579afeaf73f3fec 7a39bd0e0d69951d 10ab896b15dc6e8d 986dd70ca5b7b906 c1993850e9d3a453"
    ).split(),
    "generality": (
        "d9315349ad0473b5 7e7b85c41b51c3e5 9abc8d0e391ade7c 25762ffd733dd462 1bc9953e68e34515 41b0c3cfcfd8b1f7 "
        "dd4a3403f1f34b28 a7d5c3c4263c8e30 448aa6a27567456e d51eba23f996ff92 b9a310d6252647a0 59f8cd4cad34b8d7"
    ).split(),
    "task_similarity": (
        "0ddb501719767bb4 210b65a883bf3ab5 f30a9f9ae408df09 65ccefe381801e05 ed857465eef0ddc4 db6c91258ccb1c10 "
        "d07e46599c75299b 3d633eee9293009b 59f8cd4cad34b8d7"
    ).split(),
    "lora_rank": (
        "cd8f620796057f23 3fb51d14f57ed505 9130f88bd8f71040 a6bf4b0b3550bc1e d0535f3eb1742208 08035d494a7f6406 "
        "6bf894f1a1e5f8fc b6ed0e1b34433b01 65655ccaf59787c8 2a60177907472260 7e7b85c41b51c3e5 922d5decec88c626 "
        "89ca4e088ae00005 45692553d23718a9 8fdca16e3587a57b 2f26ea973154bae6 7e1a4bbbc1ac94ea c12fb5a2e7700b92 "
        "4668732e1e6ca491 d9315349ad0473b5 1722c248e3e6756b 21de8a8d90999a42 59f8cd4cad34b8d7 2dfb14aaa169d705"
    ).split(),
    "regularization": (
        "d9315349ad0473b5 d51eba23f996ff92 d3853839251d1324 073d82402c0a9178 b9a310d6252647a0 6a8e763411a9bbc8 "
        "d40d2b8d8f119ff0 59f8cd4cad34b8d7"
    ).split(),
    "change_magnitude": (
        "c421216eb25f4793 cd0536dd2022f4f4 122cf890365950fd 5b03642309f891b3 7aadf6a9d0c8996a faaa9e15cb005660 "
        "eb08dcd233efedec dcf523d587fcf99d d9dc94651aa6edc4 591038019ef354d7 fed134c300e3fcab c4c3e4d19f3496cb "
        "15a696aaf8462c5b c5888fa7c4f783c3 919014bca419d7df"
    ).split(),
}


def run_ids(configs) -> list[str]:
    return [legacy_id(config) for config in configs]


def test_every_section_is_pinned():
    assert tuple(PINNED) == SECTIONS


@pytest.mark.parametrize("section", SECTIONS)
def test_cpu_grid_gives_the_runs_of_the_old_code(section):
    assert run_ids(section_grid(section, "cpu").configs("local")) == PINNED[section]


@pytest.mark.parametrize("section", ["subset_size", "learning_rate", "change_magnitude"])
def test_one_task_pages_default_to_the_grids_first_task(section):
    grid = section_grid(section, "cpu")
    assert grid.tasks[0] == "sst2"
    study = section_study(section, "cpu", "sst2")
    assert run_ids(study.configs("local")) == PINNED[section][:len(study.configs("local"))]


def test_rate_grid_is_the_grids():
    assert [section_grid(s, "cpu").rate_grid for s in SECTIONS] == [
        "middle", "full", "full", "middle", "middle", "full", "middle", "full"]


def test_change_magnitude_reuses_the_subset_size_grid():
    assert PINNED["change_magnitude"] == run_ids(section_study("subset_size", "cpu", "sst2").configs("local"))


@pytest.mark.parametrize("section,primaries,secondaries", [
    ("generality", ("sst2",), ("trec6",)),
    ("task_similarity", ("conll03",), ("conll03_de", "trec6")),
    ("lora_rank", ("sst2",), ("trec6",)),
    ("regularization", ("sst2",), ("trec6",)),
])
def test_generality_sections_hold_their_tasks_and_base_runs(section, primaries, secondaries):
    grid = section_grid(section, "cpu")
    assert (grid.tasks, grid.secondary_tasks) == (primaries, secondaries)
    bases = grid.base_studies()
    assert [s.task for s in bases] == list(dict.fromkeys(primaries + secondaries))
    assert all(s.selectors == ("full",) for s in bases)
    assert set(run_ids(c for s in bases for c in s.configs("local"))) <= set(PINNED[section])
    assert (grid.probe is None) == (section == "task_similarity")
