"""Runs under the Python being recorded: imports sample_mod, warms it up so the adaptive
bytecode holds specialized opcodes, turns on sys.monitoring for `monitored` (3.12+: its code
then holds INSTRUMENTED_LINE / INSTRUMENTED_INSTRUCTION), writes what Python itself says about
each function to EXPECT, then sleeps until killed.

EXPECT lines (tests/unit/test_python.c reads them):
  fn SUFFIX QUALNAME CODE_ADDR FIRSTLINENO FLAGS NUNITS  the function and id(its code)
  file FILENAME                                          co_filename
  qual CO_QUALNAME
  rets N U1 U2 ...     code units of RETURN_VALUE / RETURN_CONST (dis, not adaptive)
  lines L0 L1 ...      line of every code unit (co_positions; -1 for none)
  missing SUFFIX QUALNAME                                 must not be found
"""
import dis
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sample_mod as m  # noqa: E402

SUFFIX = "pydump/sample_mod.py"
FOUND = [
    ("plain", m.plain),
    ("many_returns", m.many_returns),
    ("gen", m.gen),
    ("coro", m.coro),
    ("decorated", m.decorated.__wrapped__),
    ("decorated_plain", m.decorated_plain.__closure__[0].cell_contents),
    ("cached", m.cached.__wrapped__),
    ("café", m.café),
    ("Outer.method", m.Outer.method),
    ("Outer.smeth", m.Outer.smeth),
    ("Outer.cmeth", m.Outer.cmeth.__func__),
    ("Outer.prop", m.Outer.prop.fget),
    ("Outer.dmeth", m.Outer.dmeth.__wrapped__),
    ("Outer.Inner.deep", m.Outer.Inner.deep),
    ("Outer.Inner.Innermost.deepest", m.Outer.Inner.Innermost.deepest),
    ("monitored", m.monitored),
    ("big", m.big),
    ("alias", m.plain),
]
MISSING = [
    (SUFFIX, "nope"),
    (SUFFIX, "Outer.nope"),
    (SUFFIX, "plain.<locals>.x"),
    (SUFFIX, "<module>"),
    ("other/sample_mod.py", "plain"),
    ("ample_mod.py", "plain"),
]


def warm():
    o = m.Outer()
    for i in range(2000):
        m.plain(i)
        m.many_returns(i % 5)
        list(m.gen(3))
        m.decorated(i)
        m.decorated_plain(i)
        m.cached(i % 7)
        m.café(i)
        o.method(i)
        m.Outer.smeth(i)
        m.Outer.cmeth(i)
        o.prop
        o.dmeth(i)
        m.Outer.Inner().deep(i)
        m.Outer.Inner.Innermost().deepest()
        m.monitored(5)
        m.big(i)
    for i in range(20):
        c = m.coro(i)
        try:
            c.send(None)
        except StopIteration:
            pass


def rets(code):
    out = []
    for ins in dis.get_instructions(code):
        if ins.opname in ("RETURN_VALUE", "RETURN_CONST"):
            out.append(ins.offset // 2)
    return out


def main():
    warm()
    if sys.version_info >= (3, 12):
        mon = sys.monitoring
        mon.use_tool_id(3, "ragd-test")
        mon.set_local_events(3, m.monitored.__code__,
                             mon.events.LINE | mon.events.INSTRUCTION)
        m.monitored(3)
    with open(sys.argv[1], "w") as f:
        for name, fn in FOUND:
            co = fn.__code__
            f.write("fn %s %s 0x%x %d %d %d\n" % (SUFFIX, name, id(co), co.co_firstlineno,
                                                 co.co_flags, len(co.co_code) // 2))
            f.write("file %s\n" % co.co_filename)
            f.write("qual %s\n" % co.co_qualname)
            r = rets(co)
            f.write("rets %d %s\n" % (len(r), " ".join(map(str, r))))
            lines = [p[0] if p[0] is not None else -1 for p in co.co_positions()]
            f.write("lines %s\n" % " ".join(map(str, lines)))
        for suf, q in MISSING:
            f.write("missing %s %s\n" % (suf, q))
        f.write("end\n")
    sys.stdout.write("ready %d\n" % os.getpid())
    sys.stdout.flush()
    while True:
        time.sleep(3600)


main()
