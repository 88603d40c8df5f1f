"""A template's values as CloudFormation resolves them: the one resolver the template tests share.

Ref gives a parameter's or pseudo parameter's value from the context (Number parameters as strings,
as CloudFormation passes them); Fn::GetAtt gives what the context holds for "Resource.Attribute"; either
stays as written when the context has no value for it. Fn::Sub substitutes the context (and its own
variable map), a name it lacks standing for itself. Fn::Join joins a resolved list. Fn::If, Fn::Equals,
Fn::Not, Fn::And, Fn::Or and Condition evaluate the template's conditions; a branch that chooses
AWS::NoValue leaves its property or list item out. Anything else stays as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

NO_VALUE = object()


def parameter_defaults(template: Mapping[str, Any]) -> dict[str, str]:
    return {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}


def list_parameters(template: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, list[str]]:
    """CommaDelimitedList parameters as Ref gives them: lists of the comma-separated values."""
    return {
        name: [item.strip() for item in str(values[name]).split(",")]
        for name, spec in template.get("Parameters", {}).items()
        if spec.get("Type") == "CommaDelimitedList" and name in values
    }


def resolve(value: Any, conditions: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
    def condition(name: str) -> bool:
        return bool(walk(conditions[name]))

    def sub(text: str, variables: Mapping[str, Any]) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            return str(variables[name]) if name in variables else str(context.get(name, name))

        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def walk(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((function, argument),) = node.items()
            if function == "Ref":
                return NO_VALUE if argument == "AWS::NoValue" else context.get(argument, node)
            if function == "Fn::GetAtt":
                return context.get(".".join(argument) if isinstance(argument, list) else str(argument), node)
            if function == "Fn::Sub":
                if isinstance(argument, list):
                    return sub(str(argument[0]), {key: walk(item) for key, item in argument[1].items()})
                return sub(str(argument), {})
            if function == "Fn::Join":
                return str(argument[0]).join(str(item) for item in walk(argument[1]))
            if function == "Fn::If":
                return walk(argument[1] if condition(argument[0]) else argument[2])
            if function == "Fn::Equals":
                return str(walk(argument[0])) == str(walk(argument[1]))
            if function == "Fn::Not":
                return not walk(argument[0])
            if function == "Fn::And":
                return all(walk(item) for item in argument)
            if function == "Fn::Or":
                return any(walk(item) for item in argument)
            if function == "Condition":
                return condition(argument)
        if isinstance(node, dict):
            return {key: item for key, item in ((k, walk(v)) for k, v in node.items()) if item is not NO_VALUE}
        if isinstance(node, list):
            return [item for item in (walk(v) for v in node) if item is not NO_VALUE]
        return node

    return walk(value)
