"""Read a junit.xml as CI tools do, and say what they would see.

usage: check_junit.py JUNIT.XML XSD

1. Validates it against the XSD (xmlschema); an invalid file exits 1 with the reasons.
2. Parses it with junitparser (the library many CI integrations use) and prints one JSON
   object: totals, and per suite its counts and each case's name and result kind
   (passed, failure, error, skipped) with the failure message, and the suite's system-err.
"""
import json
import sys

import xml.etree.ElementTree as ET

import junitparser
import xmlschema

path, xsd = sys.argv[1], sys.argv[2]
schema = xmlschema.XMLSchema(xsd)
errors = [str(e.reason) + " at " + str(e.path) for e in schema.iter_errors(path)]
if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)

system_err = {s.get("name"): (s.findtext("system-err") or None) for s in ET.parse(path).getroot().iter("testsuite")}
xml = junitparser.JUnitXml.fromfile(path)
suites = []
totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
for suite in xml:
    cases = []
    for case in suite:
        kind, message = "passed", None
        for r in case.result:
            if isinstance(r, junitparser.Failure):
                kind, message = "failure", r.message
            elif isinstance(r, junitparser.Error):
                kind, message = "error", r.message
            elif isinstance(r, junitparser.Skipped):
                kind, message = "skipped", r.message
        cases.append({"name": case.name, "classname": case.classname, "kind": kind, "message": message})
    counts = {k: sum(1 for c in cases if c["kind"] == v) for k, v in
              [("failures", "failure"), ("errors", "error"), ("skipped", "skipped")]}
    counts["tests"] = len(cases)
    for k in totals:
        totals[k] += counts[k]
    suites.append({"name": suite.name, "declared": {"tests": suite.tests, "failures": suite.failures,
                   "errors": suite.errors, "skipped": suite.skipped}, "counts": counts, "cases": cases,
                   "system_err": system_err.get(suite.name)})
print(json.dumps({"totals": totals, "suites": suites}))
