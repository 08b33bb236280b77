from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset






T = TypeVar("T", bound="Notify")



@_attrs_define
class Notify:
    """ `"notify"` on a generation job: email `email` when the job succeeds (`report_ready` or
    `certificate_issued`, the PDF attached or linked) and, if `on_failure`, a `job_failed`
    email when it ends `dead`. Each email is its own `email` job.

        Attributes:
            email (str):  Example: ops@example.com.
            attach (bool | Unset): Attach the PDF (when it fits under `limits.max_email_attachment_bytes`); otherwise the
                email carries a download link.
            on_failure (bool | Unset): Also email when the job ends `dead`.
     """

    email: str
    attach: bool | Unset = UNSET
    on_failure: bool | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        email = self.email

        attach = self.attach

        on_failure = self.on_failure


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "email": email,
        })
        if attach is not UNSET:
            field_dict["attach"] = attach
        if on_failure is not UNSET:
            field_dict["on_failure"] = on_failure

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        email = d.pop("email")

        attach = d.pop("attach", UNSET)

        on_failure = d.pop("on_failure", UNSET)

        notify = cls(
            email=email,
            attach=attach,
            on_failure=on_failure,
        )

        return notify

