#!/usr/bin/python3
# What a chat service would act on in a message watch53 sent it: the checker of
# alerts_hostile.int and tests/check_teams_schema.sh (this test's own model of each
# service's markup, independent of alerts/render.c; the same rules as the walker in
# tests/test_format.c).
#
#   chatcheck.py bodies LOG --service PATH=TYPE... [--since N] [--events exposed|changed]
#                [--version TEXT] [--name TEXT] [--schema SCHEMA]
#       every request receiver.py logged in LOG (after its first N lines) for one of the
#       given paths: the body's exact bytes valid UTF-8, JSON where the service takes JSON,
#       headers printable ASCII, and every string of the payload neutral in its service (no
#       active mention, no '<' that is read, no Markdown or HTML link or our markup broken
#       outside a code span, no unescaped '&', no control, bidi or invisible character).
#       --name: the target's name (controls as U+FFFD, the service's escapes and look-alikes
#       undone) is shown in every chat message (it may be cut after its first 20 "€"), and
#       is the webhook's "target" byte for byte.  --version: a version.bind answer, as
#       watch53 records it (printable ASCII, every other byte '?'), is shown in every chat
#       message and is the webhook's dns.version.  webhook: the event type is --events.
#       --schema: Teams cards validated.
#       Prints one line per message and a summary per service; exit 0 ok, 1 a failure.
#   chatcheck.py selftest
#       the checker itself can fail: a table of strings each service would act on (or not)
#       and a fake receiver log with raw hostile bodies, all of which must be found.
#   chatcheck.py schema SCHEMA FILE...
#       the Teams payloads in FILE (a golden file: URL, headers, a blank line, the body; or a
#       bare JSON body) validated against the Adaptive Card JSON schema SCHEMA.
#
# Standard library and python3-jsonschema (Debian); run it with /usr/bin/python3.

import argparse
import base64
import html
import json
import sys

SYN_DATA, SYN_PLAIN, SYN_CODE, SYN_SLACK, SYN_MATTERMOST, SYN_DISCORD, SYN_TEAMS, \
    SYN_GCHAT, SYN_HTML = range(9)

STRUCTURAL = {"type", "color", "contentType", "$schema", "version", "width", "weight", "size",
              "fontType", "timestamp", "chat_id", "parse_mode"}
CHAT = ("slack", "mattermost", "discord", "teams", "googlechat", "telegram", "ntfy")
# the look-alikes render.h uses where a service has no escape
LOOKALIKE = {"\uff20": "@", "\u2217": "*", "\u02cd": "_", "\u223c": "~", "\u02cb": "`",
             "\uff3b": "[", "\uff3d": "]", "\u2039": "<"}


def control_char(c):
    """Controls (a line break is the formatter's own), bidi and invisible characters."""
    c = ord(c)
    return ((c < 0x20 and c != 0x0a) or 0x7f <= c <= 0x9f or c == 0x61c or
            0x200b <= c <= 0x200f or 0x2028 <= c <= 0x202e or 0x2060 <= c <= 0x2064 or
            0x2066 <= c <= 0x2069 or c == 0xfeff)


def word_char(c):
    return c.isascii() and (c.isalnum() or c == "_")


def escaped(s, i):
    n = 0
    while i > n and s[i - n - 1] == "\\":
        n += 1
    return n % 2 == 1


def active(syn, s):
    """Why string s would act in its service, or None."""
    for c in s:
        if syn != SYN_DATA and control_char(c):
            return "a control, bidi or invisible character U+%04X" % ord(c)
    if syn in (SYN_DATA, SYN_CODE):
        return None
    md = syn in (SYN_MATTERMOST, SYN_DISCORD)
    code = False
    line = 0
    stars = lows = tildes = 0
    i = 0
    n = len(s)
    while True:
        c = s[i] if i < n else "\0"
        if c in ("\0", "\n"):
            ln = s[line:]
            if syn in (SYN_SLACK, SYN_GCHAT):
                if stars and not (stars == 2 and ln[:1] == "*"):
                    return "'*' from the text"
                if lows and not (syn == SYN_GCHAT and lows == 2 and ln[:1] == "_"):
                    return "'_' from the text"
            elif md:
                if stars and not (stars == 4 and ln[:2] == "**"):
                    return "'*' from the text"
                if lows:
                    return "'_' from the text"
            elif syn == SYN_TEAMS and (stars or lows):
                return "emphasis from the text"
            if tildes and syn not in (SYN_PLAIN, SYN_HTML):
                return "'~' from the text"
            if c == "\0":
                break
            line = i + 1
            stars = lows = tildes = 0
            i += 1
            continue
        if syn == SYN_HTML:
            if s.startswith("<code>", i) or s.startswith("</code>", i):
                code = s[i + 1] != "/"
                i = s.index(">", i) + 1
                continue
        elif c == "`" and syn not in (SYN_PLAIN, SYN_TEAMS) and not (md and escaped(s, i)):
            code = not code
            i += 1
            continue
        if code:
            i += 1
            continue
        nxt = s[i + 1] if i + 1 < n else "\0"
        if c == "@" and word_char(nxt):
            return "a mention (@%s)" % s[i + 1:i + 12]
        if c == "<":
            if syn == SYN_HTML:
                if not any(s.startswith(t, i) for t in ("<b>", "</b>", "<i>", "</i>")):
                    return "a tag"
            elif syn != SYN_PLAIN and not (syn == SYN_DISCORD and escaped(s, i)):
                return "a '<' that is read (<!…>, <@…>, <url|…>)"
        if (c == "&" and syn in (SYN_SLACK, SYN_MATTERMOST, SYN_HTML) and
                not any(s.startswith(e, i) for e in ("&amp;", "&lt;", "&gt;"))):
            return "an unescaped '&'"
        if c in "[]" and (syn in (SYN_TEAMS, SYN_GCHAT) or (md and not escaped(s, i))):
            return "a link's bracket"
        if c in "|#" and md and not escaped(s, i):
            return "an unescaped '|' or '#'"
        if md and escaped(s, i):
            i += 1
            continue
        stars += c == "*"
        lows += c == "_"
        tildes += c == "~"
        i += 1
    if code:
        return "a code span left open"
    return None


def jtype(o):
    if isinstance(o, dict) and isinstance(o.get("type"), str):
        return o["type"]
    return ""


def syntax_of(svc, key, parent):
    if svc == "webhook":
        return SYN_DATA
    if svc == "slack":
        return SYN_PLAIN if jtype(parent) == "plain_text" else SYN_SLACK
    if svc == "mattermost":
        return SYN_PLAIN if key == "fallback" else SYN_MATTERMOST
    if svc == "discord":
        return SYN_DISCORD
    if svc == "teams":
        return SYN_CODE if jtype(parent) == "TextRun" else SYN_TEAMS
    if svc == "googlechat":
        return SYN_GCHAT
    if svc == "telegram":
        return SYN_HTML
    return SYN_PLAIN


def walk(svc, o, key, parent, out):
    """Every (where, syntax, string) of a payload, structural keys left out."""
    if isinstance(o, dict):
        for k, v in o.items():
            walk(svc, v, k, o, out)
    elif isinstance(o, list):
        for v in o:
            walk(svc, v, key, parent, out)
    elif isinstance(o, str) and key not in STRUCTURAL:
        out.append((key, syntax_of(svc, key, parent), o))
    return out


def shown(svc, s):
    """The text as a reader sees it: the service's escapes and our look-alikes undone."""
    if svc == "telegram":
        for t in ("<b>", "</b>", "<i>", "</i>", "<code>", "</code>"):
            s = s.replace(t, "")
        s = html.unescape(s)
    elif svc in ("slack", "mattermost"):
        s = s.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    if svc in ("mattermost", "discord"):
        out, i = [], 0
        while i < len(s):
            if s[i] == "\\" and i + 1 < len(s):
                i += 1
            out.append(s[i])
            i += 1
        s = "".join(out)
    return "".join(LOOKALIKE.get(c, c) for c in s)


def recorded(answer):
    """A TXT answer as watch53 records it (dnscheck_printable): printable ASCII, else '?'."""
    return "".join(chr(b) if 0x20 <= b < 0x7f else "?" for b in answer.encode("utf-8"))


def as_shown(text):
    """What the renderer must make of text: controls, bidi and invisible characters as U+FFFD."""
    return "".join("\ufffd" if control_char(c) else c for c in text)


def load_schema(path):
    import jsonschema     # python3-jsonschema
    with open(path, encoding="utf-8") as f:
        s = json.load(f)
    return jsonschema.Draft6Validator(s)


# Teams' own card extension (documented by Microsoft for Teams, not part of the Adaptive Card
# schema, whose AdaptiveCard has additionalProperties false): checked here, then taken out.
MSTEAMS_KEYS = {"width", "entities"}


def teams_errors(validator, body):
    """Problems of one Teams payload (a parsed JSON body); [] when it is valid."""
    errs = []
    if body.get("type") != "message" or not isinstance(body.get("attachments"), list) \
            or not body["attachments"]:
        return ["not a Teams message with attachments"]
    for n, a in enumerate(body["attachments"]):
        if a.get("contentType") != "application/vnd.microsoft.card.adaptive":
            errs.append("attachment %d: contentType %r" % (n, a.get("contentType")))
            continue
        card = dict(a.get("content") or {})
        ms = card.pop("msteams", None)
        if ms is not None:
            if not isinstance(ms, dict) or set(ms) - MSTEAMS_KEYS:
                errs.append("attachment %d: msteams has unknown keys %s" %
                            (n, sorted(set(ms) - MSTEAMS_KEYS) if isinstance(ms, dict) else ms))
            elif "width" in ms and ms["width"] != "Full":
                errs.append("attachment %d: msteams.width %r" % (n, ms["width"]))
            for e in (ms or {}).get("entities", []) if isinstance(ms, dict) else []:
                if not (isinstance(e, dict) and e.get("type") == "mention" and
                        isinstance(e.get("text"), str) and isinstance(e.get("mentioned"), dict)
                        and isinstance(e["mentioned"].get("id"), str)):
                    errs.append("attachment %d: msteams.entities item %r" % (n, e))
                elif e["text"] not in json.dumps(card.get("body"), ensure_ascii=False):
                    # Teams shows a mention only where its <at> text stands in the card
                    errs.append("attachment %d: mention %r is not in the card's text" %
                                (n, e["text"]))
        if card.get("version") != validator.schema_version:
            errs.append("attachment %d: card version %r, the schema is %s" %
                        (n, card.get("version"), validator.schema_version))
        for e in validator.iter_errors(card):
            # the top level is an anyOf: show what the AdaptiveCard branch says
            ctx = [c for c in (e.context or []) if "AdaptiveCard" in str(c.schema_path)] \
                or list(e.context or []) or [e]
            for c in ctx[:5]:
                errs.append("attachment %d: at /%s: %s" % (
                    n, "/".join(str(p) for p in c.absolute_path), c.message[:300]))
    return errs


def golden_body(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw.lstrip().startswith(b"{"):
        return raw
    return raw.split(b"\n\n", 1)[1]


def cmd_schema(a):
    v = load_schema(a.schema)
    v.schema_version = a.card_version
    bad = 0
    for p in a.files:
        body = json.loads(golden_body(p).decode("utf-8"))
        errs = teams_errors(v, body)
        if errs:
            bad += 1
            for e in errs:
                print("FAIL: %s: %s" % (p, e))
        else:
            print("ok: %s: %d card(s) valid (Adaptive Card %s schema; msteams checked apart)"
                  % (p, len(body["attachments"]), a.card_version))
    # the check itself can fail: a broken copy of the first card is rejected, with the reason
    first = json.loads(golden_body(a.files[0]).decode("utf-8"))
    for label, breakit in (
            ("a TextBlock weight outside the enum",
             lambda c: c["body"][0].__setitem__("weight", "Heavy")),
            ("an unknown card property", lambda c: c.__setitem__("onClick", "x")),
            ("an element type the schema does not know",
             lambda c: c["body"].append({"type": "Marquee", "text": "x"})),
            ("msteams.width other than Full",
             lambda c: c.__setitem__("msteams", {"width": "Wide"}))):
        broken = json.loads(json.dumps(first))
        breakit(broken["attachments"][0]["content"])
        errs = teams_errors(v, broken)
        if errs:
            print("ok: rejected %s: %s" % (label, errs[0][:160]))
        else:
            print("FAIL: the check accepted %s" % label)
            bad += 1
    print("# %d file(s), %d failure(s)" % (len(a.files), bad))
    return 1 if bad else 0


def check_webhook(rec, body, a, fails):
    j = json.loads(body)
    what = []
    if a.events and j.get("type") != a.events:
        fails.append("event type %r, expected %r" % (j.get("type"), a.events))
    if a.name is not None:
        if j.get("target") != a.name:
            fails.append("target is not the configured name byte for byte: %r" % j.get("target"))
        else:
            what.append("target = the name, as data")
    dns = j.get("dns") or {}
    if a.version is not None:
        if dns.get("version") != recorded(a.version):
            fails.append("dns.version %r, expected the answer as recorded, as data %r" %
                         (dns.get("version"), recorded(a.version)))
        else:
            what.append("dns.version = the answer as recorded")
    return what


def cmd_bodies(a):
    svcmap = {}
    for x in a.service:
        p, t = x.split("=", 1)
        svcmap[p] = t
    validator = None
    if a.schema:
        validator = load_schema(a.schema)
        validator.schema_version = a.card_version
    recs = []
    with open(a.log, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= a.since and line.strip():
                r = json.loads(line)
                if "tls_error" not in r:
                    recs.append(r)
    total_fail = 0
    seen = {}
    for r in recs:
        path = r["path"].split("?", 1)[0]
        svc = next((t for p, t in svcmap.items() if path == p or path.startswith(p + "/")),
                   None)
        if svc is None:
            print("FAIL: a request for %s, no sink sends there" % path)
            total_fail += 1
            continue
        seen[svc] = seen.get(svc, 0) + 1
        fails, did = [], []
        body = base64.b64decode(r["body_b64"])
        for k, v in r["headers"].items():
            if not all(0x20 <= ord(ch) < 0x7f for ch in k + v):
                fails.append("header %s is not printable ASCII: %r" % (k, v))
            if "evil.test" in v or "e.test" in v.replace("receiver.test", ""):
                fails.append("header %s carries the attacker's address: %r" % (k, v))
        if svc == "ntfy" and r["headers"].get("markdown", "").lower() in ("yes", "true", "1"):
            fails.append("ntfy message with Markdown on: the text's links would act")
        try:
            text = body.decode("utf-8")
            did.append("valid UTF-8 (%d bytes)" % len(body))
        except UnicodeDecodeError as e:
            fails.append("body is not valid UTF-8: %s" % e)
            text = None
        strings = []
        if text is not None:
            if svc == "ntfy":
                strings = [("body", SYN_PLAIN, text)]
                did.append("plain text")
            else:
                try:
                    j = json.loads(text)
                    did.append("JSON")
                except ValueError as e:
                    fails.append("body is not JSON: %s" % e)
                    j = None
                if j is not None:
                    strings = walk(svc, j, "", None, [])
                    if svc == "webhook":
                        did += check_webhook(r, text, a, fails)
                    if svc == "teams" and validator is not None:
                        errs = teams_errors(validator, j)
                        fails += ["Adaptive Card schema: " + e for e in errs]
                        if not errs:
                            did.append("Adaptive Card %s schema valid" % a.card_version)
        nstr = 0
        for key, syn, s in strings:
            nstr += 1
            why = active(syn, s)
            if why is not None:
                fails.append("\"%s\": %s in %r" % (key, why, s[:200]))
        if strings:
            did.append("%d strings neutral" % nstr)
        if svc in CHAT and text is not None:
            every = "\n".join(shown(svc, s) for _, _, s in strings)
            if svc == "ntfy":
                every += "\n" + r["headers"].get("title", "")
            for label, want in (("version", a.version), ("name", a.name)):
                if want is None:
                    continue
                w = as_shown(recorded(want) if label == "version" else want)
                if label == "name" and "€" * 20 in w:
                    w = w[:w.index("€" * 20) + 20]     # cut in titles and summaries
                if w in every:
                    did.append("%s shown" % label)
                else:
                    fails.append("the %s %r is not shown (escapes undone) in: %r" %
                                 (label, w, every[:600]))
        status = "ok" if not fails else "FAIL"
        print("%s: %s n=%s %s %s: %s" % (status, svc, r.get("n"), r["method"], path,
                                         ", ".join(did)))
        for f in fails:
            print("FAIL:   %s" % f)
        total_fail += len(fails)
    for svc in sorted(set(svcmap.values())):
        print("# %s: %d message(s)" % (svc, seen.get(svc, 0)))
        if a.require_all and not seen.get(svc):
            print("FAIL: no message reached the %s sink" % svc)
            total_fail += 1
    print("# %d message(s), %d failure(s)" % (sum(seen.values()), total_fail))
    return 1 if total_fail else 0


SELFTEST = (
    (SYN_SLACK, "*title* ok\n*Since:* now `cmd @here <x>`", False),
    (SYN_SLACK, "hi @channel", True),
    (SYN_SLACK, "hi <!channel>", True),
    (SYN_SLACK, "hi &lt;!channel&gt; &amp;", False),
    (SYN_SLACK, "a & b", True),
    (SYN_SLACK, "*title with a * inside*", True),
    (SYN_SLACK, "plain _italic_", True),
    (SYN_SLACK, "`open code", True),
    (SYN_SLACK, "bidi \u202e here", True),
    (SYN_SLACK, "zero\u200bwidth", True),
    (SYN_SLACK, "tab\there", True),
    (SYN_MATTERMOST, "**title**\n\\[x\\](http://e) &lt;!all&gt;", False),
    (SYN_MATTERMOST, "[x](http://e)", True),
    (SYN_MATTERMOST, "\\<!here>", True),
    (SYN_MATTERMOST, "**a \\* b**", False),
    (SYN_MATTERMOST, "**a * b**", True),
    (SYN_MATTERMOST, "#hashtag", True),
    (SYN_DISCORD, "\\<\uff20123\\> \\[x\\](http://e)", False),
    (SYN_DISCORD, "<@123>", True),
    (SYN_DISCORD, "\\\\<!here>", True),
    (SYN_DISCORD, "||spoiler||", True),
    (SYN_DISCORD, "@everyone", True),
    (SYN_TEAMS, "[n](https://evil.test/n)", True),
    (SYN_TEAMS, "**bold**", True),
    (SYN_TEAMS, "<at>x</at>", True),
    (SYN_GCHAT, "<users/all>", True),
    (SYN_GCHAT, "*t*\n_Since:_ x `a <b>`", False),
    (SYN_HTML, "<b>t</b> &lt;a&gt; <code><x> @here</code>", False),
    (SYN_HTML, "<a href=\"http://e\">x</a>", True),
    (SYN_HTML, "@someone", True),
    (SYN_HTML, "a & b", True),
    (SYN_PLAIN, "<!here> & *x*", False),
    (SYN_PLAIN, "@here", True),
    (SYN_DATA, "@here <!channel> \u202e", False),
)


def cmd_selftest(_a):
    import os
    import tempfile
    bad = 0
    for n, (syn, s, act) in enumerate(SELFTEST):
        why = active(syn, s)
        if (why is not None) != act:
            print("FAIL: selftest case %d %r: %s" % (n, s, why or "not found"))
            bad += 1
    # raw hostile bodies, one per service, and a body that is not UTF-8: every one is found
    hostile = "W53X @channel <!here> [x](http://e.test) \u202e"
    bodies = {
        "/slack": json.dumps({"text": hostile}), "/mattermost": json.dumps({"text": hostile}),
        "/discord": json.dumps({"content": hostile}),
        "/teams": json.dumps({"type": "message", "attachments": [{"contentType":
                              "application/vnd.microsoft.card.adaptive", "content": {
                              "type": "AdaptiveCard", "version": "1.4", "body": [
                                  {"type": "TextBlock", "text": hostile}]}}]}),
        "/googlechat": json.dumps({"text": hostile}),
        "/telegram": json.dumps({"text": hostile, "parse_mode": "HTML"}),
        "/ntfy": hostile}
    svcs = {p: p[1:] for p in bodies}
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "log.jsonl")
        with open(log, "w", encoding="utf-8") as f:
            for i, (p, b) in enumerate(list(bodies.items()) + [("/webhook", None)]):
                raw = b.encode("utf-8") if b is not None else b'{"target": "\xe2\x82"}'
                f.write(json.dumps({"n": i + 1, "method": "POST", "path": p, "headers": {},
                                    "body_b64": base64.b64encode(raw).decode()}) + "\n")
        ns = argparse.Namespace(log=log, since=0, service=["%s=%s" % (p, s) for p, s in
                                                           svcs.items()] + ["/webhook=webhook"],
                                events=None, version=None, name=None, schema=None,
                                card_version="1.4", require_all=True)
        import contextlib
        import io
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            cmd_bodies(ns)
        text = out.getvalue()
    for p in list(bodies) + ["/webhook"]:
        if not any(line.startswith("FAIL: %s " % p[1:]) for line in text.splitlines()):
            print("FAIL: selftest: the raw hostile %s body was not caught" % p[1:])
            bad += 1
    print("# selftest: %d string cases, %d raw hostile bodies: %d failure(s)" %
          (len(SELFTEST), len(bodies) + 1, bad))
    return 1 if bad else 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bodies")
    b.add_argument("log")
    b.add_argument("--service", action="append", default=[], help="PATH=TYPE")
    b.add_argument("--since", type=int, default=0)
    b.add_argument("--events")
    b.add_argument("--version")
    b.add_argument("--name")
    b.add_argument("--schema")
    b.add_argument("--card-version", default="1.4")
    b.add_argument("--require-all", action="store_true")
    sub.add_parser("selftest")
    s = sub.add_parser("schema")
    s.add_argument("schema")
    s.add_argument("files", nargs="+")
    s.add_argument("--card-version", default="1.4")
    a = p.parse_args()
    return {"schema": cmd_schema, "bodies": cmd_bodies, "selftest": cmd_selftest}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
