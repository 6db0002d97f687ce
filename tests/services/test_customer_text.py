"""A customer text not yet in a language: escaped params, nested texts, and its JSON round trip."""

from __future__ import annotations

from services.notifications.customer_text import Text, decode, encode, plain


def test_plain_params_are_escaped_and_nested_texts_rendered_in_the_same_language() -> None:
    text = Text("Hi {name}, {what}", {"name": "<b>Ann</b> & co", "what": Text("open {bot}", {"bot": "@a<b"})})
    assert text.english() == "Hi &lt;b&gt;Ann&lt;/b&gt; &amp; co, open @a&lt;b"
    catalogue = {"Hi {name}, {what}": "Привет, {name}: {what}", "open {bot}": "откройте {bot}"}
    # every msgid goes through the translation, the params do not
    assert text.render(catalogue.get) == "Привет, &lt;b&gt;Ann&lt;/b&gt; &amp; co: откройте @a&lt;b"


def test_a_text_survives_a_jobs_json_payload_and_a_str_stays_a_str() -> None:
    text = Text("{a} and {b}", {"a": 3, "b": Text("{c}!", {"c": "x"})})
    assert decode(encode(text)) == Text("{a} and {b}", {"a": 3, "b": Text("{c}!", {"c": "x"})})
    assert decode(encode("<b>ready</b>")) == "<b>ready</b>" and plain("<b>ready</b>") == "<b>ready</b>"
