"""Grid sizes from transformers' Emu3Processor.calculate_generate_size (Python round: half to even)
for swift-emu's Processor tests. Writes Tests/Fixtures/golden/grid_sizes.json."""
import json
import pathlib

from transformers.models.emu3.processing_emu3 import Emu3Processor

ROOT = pathlib.Path(__file__).resolve().parents[2]
cases = []
ratios = ["1:1", "3:2", "2:3", "16:9", "9:16", "4:3", "21:9", "1:2", "7:5"]
areas = [518400, 720 * 720 + 1, 1024 * 1024, 384, 400, 784, 36, 100, 144, 2500, 4096, 65536, 262144]
for factor in (4, 8, 16):
    for ratio in ratios:
        for area in areas:
            rows, columns = Emu3Processor.calculate_generate_size(None, ratio, area, factor)
            cases.append({"ratio": ratio, "area": area, "spatial_factor": factor, "rows": rows, "columns": columns})
out = {"meta": {"producer": "transformers Emu3Processor.calculate_generate_size", "script": "scripts/reference/grid_sizes.py"},
       "cases": cases}
(ROOT / "Tests/Fixtures/golden/grid_sizes.json").write_text(json.dumps(out) + "\n")
print(len(cases), "cases;", sum(1 for c in cases if c["rows"] == 0 or c["columns"] == 0), "empty")
