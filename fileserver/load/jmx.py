"""A small builder of JMeter test plans (``.jmx``): the elements the plans use, nothing more.

Writing the XML by hand repeats every sampler's ten properties; here a sampler is one call, so
the plans in :mod:`fileserver.load.plans` read as what they test. JMeter's own GUI can still open
and edit the generated files.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

# Response assertion test types (JMeter's bit flags): full regex match, substring; NOT inverts.
MATCHES = 1
SUBSTRING = 16
NOT = 4


@dataclass
class Node:
    """A test element and the elements under it (JMeter's ``hashTree``)."""

    element: ET.Element
    children: list[Node] = field(default_factory=list)


def _element(tag: str, gui: str, name: str, props: dict[str, Any]) -> ET.Element:
    el = ET.Element(tag, guiclass=gui, testclass=tag, testname=name)
    for prop, value in props.items():
        el.append(_prop(prop, value))
    return el


def _prop(name: str, value: Any) -> ET.Element:
    if isinstance(value, ET.Element):
        return value
    tag = "boolProp" if isinstance(value, bool) else "stringProp"
    el = ET.Element(tag, name=name)
    el.text = str(value).lower() if isinstance(value, bool) else str(value)
    return el


# The properties every plan reads (``-Jname=value``), with their defaults.
PROPERTIES: dict[str, str] = {
    "uploader_host": "127.0.0.1",
    "uploader_port": "8001",
    "downloader_host": "127.0.0.1",
    "downloader_port": "8002",
    "stats_host": "127.0.0.1",
    "stats_port": "8003",
    "uploader_token": "",
    "downloader_token": "",
    "threads": "2",
    "ramp_up": "0",
    "iterations": "1",
    "duration": "600",
    "file_bytes": "4096",
    "wait_seconds": "120",
    "rotation_strict": "true",
}


def prop(name: str) -> str:
    """A ``-J`` property (one of :data:`PROPERTIES`), read when the element runs."""
    default = PROPERTIES[name]
    return "${__P(" + name + (f",{default}" if default else "") + ")}"


# --- plan and thread groups ----------------------------------------------------------------


def jmx_plan(name: str, comment: str, *groups: Node) -> ET.ElementTree[ET.Element]:
    """The plan: thread groups run one after the other (each waits for the previous)."""
    el = _element(
        "TestPlan",
        "TestPlanGui",
        name,
        {"TestPlan.comments": comment, "TestPlan.serialize_threadgroups": True},
    )
    el.append(_prop("TestPlan.tearDown_on_shutdown", True))
    root = ET.Element("jmeterTestPlan", version="1.2", properties="5.0", jmeter="5.6.3")
    tree = ET.SubElement(root, "hashTree")
    _attach(tree, [Node(el, list(groups))])
    ET.indent(root, space="  ")
    return ET.ElementTree(root)


def _attach(tree: ET.Element, nodes: list[Node]) -> None:
    for node in nodes:
        tree.append(node.element)
        _attach(ET.SubElement(tree, "hashTree"), node.children)


def _loop(loops: str) -> ET.Element:
    el = ET.Element(
        "elementProp",
        name="ThreadGroup.main_controller",
        elementType="LoopController",
        guiclass="LoopControlPanel",
        testclass="LoopController",
    )
    # false: the thread ends after ``loops`` iterations (true would loop forever).
    el.append(_prop("LoopController.continue_forever", False))
    el.append(_prop("LoopController.loops", loops))
    return el


def thread_group(
    name: str, *children: Node, threads: str, loops: str, kind: str = "ThreadGroup"
) -> Node:
    """Threads that run ``children`` ``loops`` times, bounded by the ``duration`` property.

    ``kind`` is ``SetupThreadGroup`` (runs before the others) or ``PostThreadGroup`` (after,
    also on shutdown) for fixtures. A failed sample never stops the thread: every check runs.
    """
    gui = {"ThreadGroup": "ThreadGroupGui"}.get(kind, f"{kind}Gui")
    el = _element(
        kind,
        gui,
        name,
        {
            "ThreadGroup.num_threads": threads,
            "ThreadGroup.ramp_time": prop("ramp_up") if kind == "ThreadGroup" else "0",
            "ThreadGroup.on_sample_error": "continue",
            "ThreadGroup.scheduler": True,
            "ThreadGroup.duration": prop("duration"),
            "ThreadGroup.delay": "0",
            "ThreadGroup.main_controller": _loop(loops),
        },
    )
    return Node(el, list(children))


# --- samplers ------------------------------------------------------------------------------


def http(
    name: str,
    service: str,
    method: str,
    path: str,
    *children: Node,
    body: object | None = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> Node:
    """A request to ``service`` (``uploader``, ``downloader``, ``stats``: host/port properties).

    ``body``: a str is sent as is, anything else as JSON. ``token`` names the property holding
    the bearer token. Redirects are not followed: a 302 is an answer under test.
    """
    props: dict[str, Any] = {}
    if body is not None:
        text = body if isinstance(body, str) else json.dumps(body)
        args = ET.Element("elementProp", name="HTTPsampler.Arguments", elementType="Arguments")
        coll = ET.SubElement(args, "collectionProp", name="Arguments.arguments")
        arg = ET.SubElement(coll, "elementProp", name="", elementType="HTTPArgument")
        arg.append(_prop("HTTPArgument.always_encode", False))
        arg.append(_prop("Argument.value", text))
        arg.append(_prop("Argument.metadata", "="))
        props |= {"HTTPSampler.postBodyRaw": True, "HTTPsampler.Arguments": args}
    props |= {
        "HTTPSampler.domain": prop(f"{service}_host"),
        "HTTPSampler.port": prop(f"{service}_port"),
        "HTTPSampler.protocol": "http",
        "HTTPSampler.path": path,
        "HTTPSampler.method": method,
        "HTTPSampler.contentEncoding": "UTF-8",
        "HTTPSampler.follow_redirects": False,
        "HTTPSampler.use_keepalive": True,
    }
    el = _element("HTTPSamplerProxy", "HttpTestSampleGui", name, props)
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {prop(token)}"
    if body is not None and not isinstance(body, str):
        sent.setdefault("Content-Type", "application/json")
    extra = [_headers(sent)] if sent else []
    return Node(el, [*extra, *children])


def _headers(headers: dict[str, str]) -> Node:
    el = _element("HeaderManager", "HeaderPanel", "headers", {})
    coll = ET.SubElement(el, "collectionProp", name="HeaderManager.headers")
    for key, value in headers.items():
        header = ET.SubElement(coll, "elementProp", name="", elementType="Header")
        header.append(_prop("Header.name", key))
        header.append(_prop("Header.value", value))
    return Node(el)


def groovy_sampler(name: str, script: str) -> Node:
    """A check computed from earlier answers: a Debug Sampler (JSR223 Sampler is not in the
    assembled JMeter) whose Groovy assertion judges; it sets ``AssertionResult.failure`` and
    a message, and may fill the sample's ``SampleResult`` for the results file."""
    el = _element(
        "DebugSampler",
        "TestBeanGUI",
        name,
        {
            "displayJMeterProperties": False,
            "displayJMeterVariables": False,
            "displaySystemProperties": False,
        },
    )
    return Node(el, [groovy_assert("judge", script)])


def _jsr223(testclass: str, name: str, script: str) -> ET.Element:
    return _element(
        testclass,
        "TestBeanGUI",
        name,
        {
            "scriptLanguage": "groovy",
            "parameters": "",
            "filename": "",
            "cacheKey": "true",
            "script": script.strip(),
        },
    )


# --- assertions and extractors -------------------------------------------------------------


def status(*codes: int) -> Node:
    """The answer's status is one of ``codes`` (and only that decides success, even for 4xx)."""
    pattern = "|".join(str(c) for c in codes)
    return _response_assertion(f"status {pattern}", "Assertion.response_code", pattern, MATCHES)


def header(name: str, value: str = r"\S+") -> Node:
    """A response header (any case: servers send them lower-case) with a value matching."""
    pattern = rf"(?is).*\b{name}:[ \t]*{value}.*"
    return _response_assertion(
        f"header {name}", "Assertion.response_headers", pattern, MATCHES, assume=False
    )


def body_contains(text: str) -> Node:
    return _response_assertion(
        f"body has {text!r}", "Assertion.response_data", text, SUBSTRING, assume=False
    )


def body_lacks(text: str) -> Node:
    return _response_assertion(
        f"body lacks {text!r}", "Assertion.response_data", text, SUBSTRING | NOT, assume=False
    )


def _response_assertion(
    name: str, field_: str, pattern: str, kind: int, *, assume: bool = True
) -> Node:
    el = _element("ResponseAssertion", "AssertionGui", name, {})
    coll = ET.SubElement(el, "collectionProp", name="Asserion.test_strings")
    coll.append(_prop("0", pattern))
    el.append(_prop("Assertion.custom_message", ""))
    el.append(_prop("Assertion.test_field", field_))
    el.append(_prop("Assertion.assume_success", assume))
    el.append(ET.Element("intProp", name="Assertion.test_type"))
    el[-1].text = str(kind)
    return Node(el)


def json_equals(path: str, expected: str, *, regex: bool = False) -> Node:
    """The JSON body's value at ``path`` equals ``expected`` (or matches it as a regex)."""
    return _json_assertion(path, expected, regex=regex, validate=True)


def json_has(path: str) -> Node:
    """The JSON body has ``path`` (a non-empty result for a filter)."""
    return _json_assertion(path, "", regex=False, validate=False)


def _json_assertion(path: str, expected: str, *, regex: bool, validate: bool) -> Node:
    label = f"{path} {'~' if regex else '=='} {expected}" if validate else f"{path} present"
    el = _element(
        "JSONPathAssertion",
        "JSONPathAssertionGui",
        label,
        {
            "JSON_PATH": path,
            "EXPECTED_VALUE": expected,
            "JSONVALIDATION": validate,
            "EXPECT_NULL": False,
            "INVERT": False,
            "ISREGEX": regex,
        },
    )
    return Node(el)


def extract(var: str, path: str, *, match: int = 1) -> Node:
    """Store the JSON value at ``path`` in ``var`` (``match=-1``: all, as ``var_1…var_N``)."""
    el = _element(
        "JSONPostProcessor",
        "JSONPostProcessorGui",
        f"{var} = {path}",
        {
            "JSONPostProcessor.referenceNames": var,
            "JSONPostProcessor.jsonPathExprs": path,
            "JSONPostProcessor.match_numbers": str(match),
            "JSONPostProcessor.defaultValues": "NOT_FOUND",
        },
    )
    return Node(el)


def groovy_assert(name: str, script: str) -> Node:
    """A check in Groovy: ``AssertionResult.setFailure(true)`` and a message when it fails."""
    return Node(_jsr223("JSR223Assertion", name, script))


def groovy_post(name: str, script: str) -> Node:
    """Runs after its sampler, with ``prev`` (the sample), ``vars`` and ``props``."""
    return Node(_jsr223("JSR223PostProcessor", name, script))


def groovy_pre(name: str, script: str) -> Node:
    """Runs before its sampler, e.g. to prepare variables its fields use."""
    return Node(_jsr223("JSR223PreProcessor", name, script))


def pause(ms: int) -> Node:
    """Wait before every sampler in scope (as a sampler's child: before that one only)."""
    return Node(
        _element("ConstantTimer", "ConstantTimerGui", f"{ms} ms", {"ConstantTimer.delay": ms})
    )


# --- controllers ---------------------------------------------------------------------------


def while_(name: str, condition: str, *children: Node) -> Node:
    """Repeat while ``condition`` (a ``${__groovy(...)}`` expression) is true."""
    el = _element(
        "WhileController", "WhileControllerGui", name, {"WhileController.condition": condition}
    )
    return Node(el, list(children))


def loop(name: str, loops: str, *children: Node) -> Node:
    """Repeat ``loops`` times on every entry (``continue_forever`` true re-arms a nested loop)."""
    el = _element(
        "LoopController",
        "LoopControlPanel",
        name,
        {"LoopController.continue_forever": True, "LoopController.loops": loops},
    )
    return Node(el, list(children))


def foreach(name: str, source: str, var: str, *children: Node) -> Node:
    """Run ``children`` once per ``source_1…source_N`` with the value in ``var``."""
    el = _element(
        "ForeachController",
        "ForeachControlPanel",
        name,
        {
            "ForeachController.inputVal": source,
            "ForeachController.returnVal": var,
            "ForeachController.useSeparator": True,
        },
    )
    return Node(el, list(children))


def critical(name: str, lock: str, *children: Node) -> Node:
    """Run ``children`` while holding ``lock``: no other thread runs a section of that lock."""
    el = _element(
        "CriticalSectionController",
        "CriticalSectionControllerGui",
        name,
        {"CriticalSectionController.lockName": lock},
    )
    return Node(el, list(children))
