"""Renders chat templates with transformers' own renderer (apply_chat_template's Jinja environment)
for swift-emu's ChatTemplate tests. Writes Tests/Fixtures/golden/chat_templates.json."""
import json
import pathlib

from transformers.utils.chat_template_utils import render_jinja_template

ROOT = pathlib.Path(__file__).resolve().parents[2]
EMU3 = json.loads((ROOT / "Tests/Fixtures/tiny-emu3/chat_template.json").read_text())["chat_template"]
TEMPLATES = {
    "emu3": EMU3,
    # Features beyond Emu3's: set, loop variables, whitespace control, tests, elif, ~, filters.
    "features": (
        "{%- set sep = ' | ' -%}\n"
        "{%- for m in messages -%}\n"
        "  {%- if loop.first and m['role'] == 'system' -%}[SYS]{{ m['content'][0]['text'] | trim }}\n"
        "  {%- elif m.role == 'user' -%}{{ loop.index0 ~ ':' }}{{ m.role | upper }}"
        "{% for c in m.content %}{% if c.type == 'image' %}<image>{% else %}{{ c.text }}{% endif %}{% endfor %}"
        "{{ sep if not loop.last else '' }}\n"
        "  {%- else -%}{{ 'A: ' + m['content'][0]['text'] }}{% if m.name is defined %}!{% endif %}{{ sep }}\n"
        "  {%- endif -%}\n"
        "{%- endfor -%}\n"
        "{%- if add_generation_prompt %} ASSISTANT ({{ messages | length }}):{% endif %}"
    ),
}
CONVERSATIONS = [
    [{"role": "system", "content": [{"type": "text", "text": "You are a helpful assistant."}]},
     {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is this?"}]}],
    [{"role": "user", "content": [{"type": "text", "text": "Describe "}, {"type": "image"}, {"type": "image"}]},
     {"role": "assistant", "content": [{"type": "text", "text": "Two squares."}]},
     {"role": "user", "content": [{"type": "text", "text": "  And now?  "}]}],
]
cases = []
for name, template in TEMPLATES.items():
    for conversation in CONVERSATIONS:
        for add in (True, False):
            rendered, _ = render_jinja_template(conversations=[conversation], chat_template=template,
                                                add_generation_prompt=add)
            cases.append({"template": name, "messages": conversation, "add_generation_prompt": add,
                          "rendered": rendered[0]})
out = {"meta": {"producer": "transformers.utils.chat_template_utils.render_jinja_template",
                "script": "scripts/reference/chat_templates.py"},
       "templates": TEMPLATES, "cases": cases}
(ROOT / "Tests/Fixtures/golden/chat_templates.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
print(len(cases), "cases")
