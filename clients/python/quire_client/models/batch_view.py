from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.batch_links import BatchLinks
  from ..models.batch_view_counts import BatchViewCounts





T = TypeVar("T", bound="BatchView")



@_attrs_define
class BatchView:
    """ A batch and its progress.

        Attributes:
            complete (bool): Every job finished: the archive is ready.
            counts (BatchViewCounts): Jobs per status: `scheduled`, `queued`, `running`, `succeeded`, `failed`, `dead`,
                `cancelled`.
            created_at (str):
            finished (int): Jobs that reached an end state (succeeded, dead or cancelled).
            id (str):
            links (BatchLinks):
            progress (float): finished / total, 0 to 1.
            template (str):
            template_version (int):
            total (int):
     """

    complete: bool
    counts: BatchViewCounts
    created_at: str
    finished: int
    id: str
    links: BatchLinks
    progress: float
    template: str
    template_version: int
    total: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.batch_links import BatchLinks # noqa: PLC0415
        from ..models.batch_view_counts import BatchViewCounts # noqa: PLC0415
        complete = self.complete

        counts = self.counts.to_dict()

        created_at = self.created_at

        finished = self.finished

        id = self.id

        links = self.links.to_dict()

        progress = self.progress

        template = self.template

        template_version = self.template_version

        total = self.total


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "complete": complete,
            "counts": counts,
            "created_at": created_at,
            "finished": finished,
            "id": id,
            "links": links,
            "progress": progress,
            "template": template,
            "template_version": template_version,
            "total": total,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.batch_links import BatchLinks # noqa: PLC0415
        from ..models.batch_view_counts import BatchViewCounts # noqa: PLC0415
        d = dict(src_dict)
        complete = d.pop("complete")

        counts = BatchViewCounts.from_dict(d.pop("counts"))




        created_at = d.pop("created_at")

        finished = d.pop("finished")

        id = d.pop("id")

        links = BatchLinks.from_dict(d.pop("links"))




        progress = d.pop("progress")

        template = d.pop("template")

        template_version = d.pop("template_version")

        total = d.pop("total")

        batch_view = cls(
            complete=complete,
            counts=counts,
            created_at=created_at,
            finished=finished,
            id=id,
            links=links,
            progress=progress,
            template=template,
            template_version=template_version,
            total=total,
        )


        batch_view.additional_properties = d
        return batch_view

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
