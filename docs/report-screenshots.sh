#!/usr/bin/env bash
# Rebuilds the report screenshots docs/report-summary.png and docs/report-task.png from the DEMO
# inputs of docs/report-demo.py (crafted predictions, synthetic metrics; not a real run).
# Needs: the package built (swift build -c release), Debian's chromium and python3-pil
# (apt-get install -y chromium python3-pil), and the ARC-AGI-1 per-task evaluation folder, e.g.
#   python3 -m zipfile -e ../shared/arc-mirror/ARC-AGI-master.zip /tmp/arcdemo/agi1
#   bash docs/report-screenshots.sh /tmp/arcdemo/agi1/ARC-AGI-master/data/evaluation
set -euo pipefail
evaluation="${1:?usage: docs/report-screenshots.sh ARC-AGI-1/data/evaluation [WORK_DIR]}"
work="${2:-/tmp/arc-report-demo}"
repo="$(cd "$(dirname "$0")/.." && pwd)"

rm -rf "$work"
python3 "$repo/docs/report-demo.py" "$evaluation" "$work"
"$repo/.build/release/arc-pipeline" report "$work/submission" \
  --title "arc-pipeline report: demo (8 ARC-AGI-1 evaluation tasks)" \
  --note "DEMO: crafted predictions and synthetic training metrics (docs/report-demo.py), not a real run"
page="file://$work/submission/report.html"
shot() { chromium --headless --no-sandbox --disable-gpu --hide-scrollbars "$@" 2>/dev/null; }

# The summary: the top of the page at a laptop-sized window.
shot --window-size=1280,1400 --screenshot="$repo/docs/report-summary.png" "$page"

# One task: a tall capture, cropped to the "partly solved" task (31d5ba1a), found by its badge colour.
shot --window-size=1280,9000 --screenshot="$work/tall.png" "$page"
/usr/bin/python3 - "$work/tall.png" "$repo/docs/report-task.png" <<'EOF'
import sys
from PIL import Image
image = Image.open(sys.argv[1]).convert("RGB")
width, height = image.size
pixels = image.load()
badge = (191, 135, 0)  # the "partly solved" badge (#bf8700); first hit is the table-of-contents chip
rows = [y for y in range(height) if any(pixels[x, y] == badge for x in range(0, 600, 2))]
starts = [y for i, y in enumerate(rows) if i == 0 or y - rows[i - 1] > 3]
top = starts[1] - 22
image.crop((0, top, width, min(height, top + 1005))).save(sys.argv[2], optimize=True)
EOF
ls -l "$repo/docs/report-summary.png" "$repo/docs/report-task.png"
