"""The shape of the code base: import contracts (.importlinter) and no import cycles among modules."""

from __future__ import annotations

import grimp
from importlinter.cli import lint_imports

from tests.support.services import ROOT

PACKAGES = ("schemas", "pipeline", "agents")


def test_the_import_contracts_hold():
    """Layers CLI -> capabilities -> pipeline -> schemas, and pipeline names no capability: a wrong
    import fails here with the chain that breaks the contract."""
    assert lint_imports(config_filename=str(ROOT / ".importlinter"), no_cache=True) == 0


def test_no_module_imports_itself_back():
    """No cycle of imports between any two modules, counting imports inside functions too (an
    import for type annotations only runs nowhere, so it does not count)."""
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    cycles = sorted({tuple(sorted((m, imported))) for m in graph.modules
                     for imported in graph.find_modules_directly_imported_by(m)
                     if graph.chain_exists(importer=imported, imported=m)})
    assert cycles == []
