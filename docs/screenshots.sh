#!/usr/bin/env bash
# Regenerates the pictures in docs/ from the sample pipeline: three chart PNGs as peiling writes
# them, and screenshots of report.html rendered by headless Chromium (apt-get install chromium).
#
#   bash docs/screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
cargo run --release -q -- run pipelines/dementiemonitor.toml --out "$out/run" --quiet

cp "$out/run/charts/zwaar_belast__provincie.png" docs/chart-zwaar_belast-provincie.png
cp "$out/run/charts/ediz_hoog__relatie_x_woonsituatie_naaste.png" \
    docs/chart-ediz_hoog-relatie_x_woonsituatie_naaste.png
cp "$out/run/charts/zwaar_belast__trend.png" docs/chart-zwaar_belast-trend.png

# Headless Chromium screenshots the top of a page; an iframe opened at an anchor shows the
# report from the first indicator's section on.
cat >"$out/run/at-indicator.html" <<'HTML'
<!doctype html><html><body style="margin:0">
<iframe src="report.html#ind-zwaar_belast" style="border:0;width:1100px;height:1700px"></iframe>
</body></html>
HTML
shoot() {
    chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
        --window-size="$2" --screenshot="$3" "file://$out/run/$1" 2>/dev/null
}
shoot report.html 1100,1500 docs/report-summary.png
shoot at-indicator.html 1100,1700 docs/report-indicator.png
ls -l docs/*.png
