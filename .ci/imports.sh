#!/usr/bin/env bash
# Checks that each package says what it may import, and imports nothing
# else, and that those declarations keep imports flowing one way.
#
# Every library package (graph, data, optim, nn and nn's subpackages) has a
# doc.go whose package comment ends with a line
#     // May import: graph, optim, data.
# (descent packages, relative to the module; or "nothing from descent").
# Each package's descent imports must be in its list. The lists themselves
# must keep to the layering: data and graph at the bottom (neither imports
# the other; graph's subpackages, such as graph/gemm, sit below graph),
# optim above graph, nn above all three, nn's subpackages above
# nn (nn itself imports none of them); examples and bench on top may import
# anything, and no library package imports them. Tests count: a package's
# test files may import only what the package may.
# Prints every violation and exits non-zero if there is one.
set -euo pipefail
set -f # patterns such as nn/* in the layering are matched, not expanded
cd "$(dirname "$0")/.."
mod=$(go list -m)
bad=0
fail() { echo "imports: $*"; bad=1; }

# ceiling returns what a package may ever import, whatever its doc says.
ceiling() {
  case "$1" in
    graph/*) echo "" ;;
    graph) echo "graph/*" ;;
    data) echo "" ;;
    optim) echo "graph graph/*" ;;
    nn) echo "graph graph/* optim data" ;;
    nn/*) echo "nn nn/* graph graph/* optim data" ;;
    *) echo "-" ;;
  esac
}

listing=$(go list -f '{{.ImportPath}} {{.Dir}} {{join .Imports " "}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./...) || {
  echo "imports: go list failed (an import cycle?)"
  exit 1
}
while read -r pkg dir imports; do
  rel=${pkg#"$mod"/}
  top=${rel%%/*}
  case "$top" in
    examples | bench) continue ;;
  esac
  ceil=$(ceiling "$rel")
  if [ "$ceil" = "-" ]; then
    fail "package $rel is outside the layout (graph, data, optim, nn, nn/*, examples, bench)"
    continue
  fi
  doc="$dir/doc.go"
  if [ ! -f "$doc" ]; then
    fail "$rel has no doc.go saying what it owns and may import"
    continue
  fi
  line=$(grep -m1 '^// May import: ' "$doc" || true)
  if [ -z "$line" ]; then
    fail "$rel: doc.go has no '// May import: ...' line"
    continue
  fi
  declared=$(echo "${line#// May import: }" | tr -d '.,')
  [ "$declared" = "nothing from descent" ] && declared=""
  for d in $declared; do
    ok=0
    for c in $ceil; do
      # shellcheck disable=SC2254
      case "$d" in $c) ok=1 ;; esac
    done
    [ "$d" = "$rel" ] && ok=0
    [ $ok -eq 1 ] || fail "$rel declares it may import $d, which the layering forbids (it may import at most: ${ceil:-nothing})"
  done
  for imp in $imports; do
    case "$imp" in "$mod"/*) ;; *) continue ;; esac
    irel=${imp#"$mod"/}
    [ "$irel" = "$rel" ] && continue # an external test package importing its own package
    case " $declared " in *" $irel "*) ;; *) fail "$rel imports $irel, which its doc.go does not declare (May import: ${declared:-nothing})" ;; esac
  done
done <<<"$listing"
[ $bad -eq 0 ] && echo "imports: direction ok"
exit $bad
