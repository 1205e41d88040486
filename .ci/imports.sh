#!/usr/bin/env bash
# Checks that imports flow one way: data and graph at the bottom (neither
# imports the other), optim above graph, nn above all three; examples and
# bench on top. Prints every violation and exits non-zero if there is one.
set -euo pipefail
mod=$(go list -m)
bad=0
while read -r pkg imports; do
  rel=${pkg#"$mod"/}
  top=${rel%%/*}
  case "$top" in
    graph) allowed="graph" ;;
    data) allowed="data" ;;
    optim) allowed="optim graph" ;;
    nn) allowed="nn graph optim data" ;;
    examples|bench) continue ;;
    *) echo "imports: package $pkg is outside the layout"; bad=1; continue ;;
  esac
  for imp in $imports; do
    case "$imp" in "$mod"/*) ;; *) continue ;; esac
    irel=${imp#"$mod"/}
    itop=${irel%%/*}
    case " $allowed " in *" $itop "*) ;; *) echo "imports: $rel imports $irel ($top may import only: $allowed)"; bad=1 ;; esac
    # nn's subpackages may import nn; nn itself must not import its subpackages.
    if [ "$rel" = nn ] && [ "$irel" != nn ] && [ "$itop" = nn ]; then echo "imports: nn imports its subpackage $irel"; bad=1; fi
  done
done < <(go list -f '{{.ImportPath}} {{join .Imports " "}}' ./...)
[ $bad -eq 0 ] && echo "imports: direction ok"
exit $bad
