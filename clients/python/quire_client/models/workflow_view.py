from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.workflow_status import WorkflowStatus
from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.edge_view import EdgeView
  from ..models.step_view import StepView
  from ..models.workflow_links import WorkflowLinks





T = TypeVar("T", bound="WorkflowView")



@_attrs_define
class WorkflowView:
    """ A workflow: its steps with their state, and its progress.

        Attributes:
            created_at (str):
            finished (int): Jobs that ended (succeeded, dead or cancelled).
            id (str):
            links (WorkflowLinks):
            progress (float): finished / total, 0 to 1.
            status (WorkflowStatus): A workflow's status: `running`, `completed` (every step ended, none failed that a child
                did not tolerate), `failed` (a step failed; retrying it runs the workflow again) or `cancelled`.
            total (int): Jobs in the workflow (a batch step is one per row).
            edges (list[EdgeView] | None | Unset): "`to` runs after `from`", by step name; absent in listings.
            finished_at (None | str | Unset):
            name (None | str | Unset):
            steps (list[StepView] | None | Unset): The named steps in the order submitted; absent in listings.
     """

    created_at: str
    finished: int
    id: str
    links: WorkflowLinks
    progress: float
    status: WorkflowStatus
    total: int
    edges: list[EdgeView] | None | Unset = UNSET
    finished_at: None | str | Unset = UNSET
    name: None | str | Unset = UNSET
    steps: list[StepView] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.edge_view import EdgeView # noqa: PLC0415
        from ..models.step_view import StepView # noqa: PLC0415
        from ..models.workflow_links import WorkflowLinks # noqa: PLC0415
        created_at = self.created_at

        finished = self.finished

        id = self.id

        links = self.links.to_dict()

        progress = self.progress

        status = self.status.value

        total = self.total

        edges: list[dict[str, Any]] | None | Unset
        if isinstance(self.edges, Unset):
            edges = UNSET
        elif isinstance(self.edges, list):
            edges = []
            for edges_type_0_item_data in self.edges:
                edges_type_0_item = edges_type_0_item_data.to_dict()
                edges.append(edges_type_0_item)


        else:
            edges = self.edges

        finished_at: None | str | Unset
        if isinstance(self.finished_at, Unset):
            finished_at = UNSET
        else:
            finished_at = self.finished_at

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        steps: list[dict[str, Any]] | None | Unset
        if isinstance(self.steps, Unset):
            steps = UNSET
        elif isinstance(self.steps, list):
            steps = []
            for steps_type_0_item_data in self.steps:
                steps_type_0_item = steps_type_0_item_data.to_dict()
                steps.append(steps_type_0_item)


        else:
            steps = self.steps


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "created_at": created_at,
            "finished": finished,
            "id": id,
            "links": links,
            "progress": progress,
            "status": status,
            "total": total,
        })
        if edges is not UNSET:
            field_dict["edges"] = edges
        if finished_at is not UNSET:
            field_dict["finished_at"] = finished_at
        if name is not UNSET:
            field_dict["name"] = name
        if steps is not UNSET:
            field_dict["steps"] = steps

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.edge_view import EdgeView # noqa: PLC0415
        from ..models.step_view import StepView # noqa: PLC0415
        from ..models.workflow_links import WorkflowLinks # noqa: PLC0415
        d = dict(src_dict)
        created_at = d.pop("created_at")

        finished = d.pop("finished")

        id = d.pop("id")

        links = WorkflowLinks.from_dict(d.pop("links"))




        progress = d.pop("progress")

        status = WorkflowStatus(d.pop("status"))




        total = d.pop("total")

        def _parse_edges(data: object) -> list[EdgeView] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                edges_type_0 = []
                _edges_type_0 = data
                for edges_type_0_item_data in (_edges_type_0):
                    edges_type_0_item = EdgeView.from_dict(edges_type_0_item_data)



                    edges_type_0.append(edges_type_0_item)

                return edges_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[EdgeView] | None | Unset, data)

        edges = _parse_edges(d.pop("edges", UNSET))


        def _parse_finished_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        finished_at = _parse_finished_at(d.pop("finished_at", UNSET))


        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))


        def _parse_steps(data: object) -> list[StepView] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                steps_type_0 = []
                _steps_type_0 = data
                for steps_type_0_item_data in (_steps_type_0):
                    steps_type_0_item = StepView.from_dict(steps_type_0_item_data)



                    steps_type_0.append(steps_type_0_item)

                return steps_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[StepView] | None | Unset, data)

        steps = _parse_steps(d.pop("steps", UNSET))


        workflow_view = cls(
            created_at=created_at,
            finished=finished,
            id=id,
            links=links,
            progress=progress,
            status=status,
            total=total,
            edges=edges,
            finished_at=finished_at,
            name=name,
            steps=steps,
        )


        workflow_view.additional_properties = d
        return workflow_view

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
