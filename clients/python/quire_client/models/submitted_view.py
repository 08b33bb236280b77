from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.job_status import JobStatus
from typing import cast

if TYPE_CHECKING:
  from ..models.links import Links





T = TypeVar("T", bound="SubmittedView")



@_attrs_define
class SubmittedView:
    """ What a submission answers.

        Attributes:
            id (str):
            links (Links):
            status (JobStatus): A job's status: `scheduled` (waiting for `run_at`), `waiting` (a workflow step whose parents
                have not all ended), `queued`, `running`, `succeeded`, `failed` (will retry), `dead` or `cancelled`.
     """

    id: str
    links: Links
    status: JobStatus
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.links import Links # noqa: PLC0415
        id = self.id

        links = self.links.to_dict()

        status = self.status.value


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "id": id,
            "links": links,
            "status": status,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.links import Links # noqa: PLC0415
        d = dict(src_dict)
        id = d.pop("id")

        links = Links.from_dict(d.pop("links"))




        status = JobStatus(d.pop("status"))




        submitted_view = cls(
            id=id,
            links=links,
            status=status,
        )


        submitted_view.additional_properties = d
        return submitted_view

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
