from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.step_request import StepRequest





T = TypeVar("T", bound="WorkflowRequest")



@_attrs_define
class WorkflowRequest:
    """ A workflow: steps, each a job that runs once the steps it names in `after` have ended.

        Attributes:
            steps (list[StepRequest]): 1 to `workflows.max_named_steps` (default 1,000) steps, in any order.
            name (None | str | Unset): A label for people, at most 200 characters. Example: November certificates.
     """

    steps: list[StepRequest]
    name: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.step_request import StepRequest # noqa: PLC0415
        steps = []
        for steps_item_data in self.steps:
            steps_item = steps_item_data.to_dict()
            steps.append(steps_item)



        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "steps": steps,
        })
        if name is not UNSET:
            field_dict["name"] = name

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.step_request import StepRequest # noqa: PLC0415
        d = dict(src_dict)
        steps = []
        _steps = d.pop("steps")
        for steps_item_data in (_steps):
            steps_item = StepRequest.from_dict(steps_item_data)



            steps.append(steps_item)


        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))


        workflow_request = cls(
            steps=steps,
            name=name,
        )

        return workflow_request

