"""The package's shape: no import cycle between gfpgan's modules (lazy imports inside functions included, since a
lazy import is how a cycle hides), and no library module over ~450 lines without a stated reason."""
import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, 'gfpgan')
LONG_MODULE_LINES = 450
LONG_REASON = 'Long because'  # the docstring of a longer module says why it stays one module


def module_files():
    """{dotted module name: file path} of every module of the package (a package is its __init__.py)."""
    modules = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith('.py'):
                path = os.path.join(folder, name)
                dotted = os.path.relpath(path, ROOT)[:-3].replace(os.sep, '.')
                modules[dotted.removesuffix('.__init__')] = path
    return modules


def imported_modules(name, path, modules):
    """The package's modules that module `name` imports anywhere in its code (functions included)."""

    def known(dotted):
        while dotted and dotted not in modules:
            dotted = dotted.rpartition('.')[0]
        return dotted

    package = name if path.endswith('__init__.py') else name.rpartition('.')[0]
    found = set()
    for node in ast.walk(ast.parse(open(path, encoding='utf-8').read())):
        if isinstance(node, ast.Import):
            found.update(known(alias.name) for alias in node.names if alias.name.startswith('gfpgan'))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition('.')[0]
                base = f'{anchor}.{base}' if base else anchor
            if base.startswith('gfpgan'):
                found.update(
                    known(f'{base}.{alias.name}') if f'{base}.{alias.name}' in modules else known(base)
                    for alias in node.names)
    return found - {name, ''}


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}) == [['a', 'b', 'c']]
    assert cycles({'a': {'b'}, 'b': set()}) == []


def test_no_import_cycle_inside_the_package():
    modules = module_files()
    graph = {name: imported_modules(name, path, modules) for name, path in modules.items()}
    assert graph['gfpgan.train'] and 'gfpgan.errors' in graph['gfpgan.preflight']  # the walk sees imports
    assert cycles(graph) == []


@pytest.mark.parametrize('name', sorted(module_files()))
def test_a_long_module_says_why(name):
    path = module_files()[name]
    text = open(path, encoding='utf-8').read()
    if text.count('\n') > LONG_MODULE_LINES:
        docstring = ast.get_docstring(ast.parse(text)) or ''
        assert LONG_REASON in docstring, f'{path} has {text.count(chr(10))} lines and does not say why'
