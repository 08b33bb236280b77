from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.on_parent_failure import OnParentFailure
from ..models.priority_choice import PriorityChoice
from ..models.step_kind import StepKind
from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.bundle_request import BundleRequest
  from ..models.certificate_request import CertificateRequest
  from ..models.email_request import EmailRequest
  from ..models.report_request import ReportRequest
  from ..models.step_batch import StepBatch





T = TypeVar("T", bound="StepRequest")



@_attrs_define
class StepRequest:
    """ One step. Exactly the field named by `kind` is given: `certificate` (as
    `POST /v1/certificates`), `report` (as `POST /v1/reports`), `email` (as `POST /v1/emails`,
    but `attachments` name steps of its `after`), `batch` (certificates from rows, JSON or
    CSV: one job per row), `merge` (its parents' PDFs as one, in the order of `after`, a
    batch's rows in row order) or `archive` (a ZIP of its parents' files with a manifest).

        Attributes:
            kind (StepKind):
            name (str): Unique in the workflow: 1 to 64 letters, digits, `.`, `_` or `-`. Example: certificates.
            after (list[str] | Unset): The steps it runs after; none: it starts at once.
            archive (BundleRequest | None | Unset):
            batch (None | StepBatch | Unset):
            certificate (CertificateRequest | None | Unset):
            email (EmailRequest | None | Unset):
            merge (BundleRequest | None | Unset):
            on_parent_failure (OnParentFailure | Unset):
            priority (None | PriorityChoice | Unset):
            report (None | ReportRequest | Unset):
     """

    kind: StepKind
    name: str
    after: list[str] | Unset = UNSET
    archive: BundleRequest | None | Unset = UNSET
    batch: None | StepBatch | Unset = UNSET
    certificate: CertificateRequest | None | Unset = UNSET
    email: EmailRequest | None | Unset = UNSET
    merge: BundleRequest | None | Unset = UNSET
    on_parent_failure: OnParentFailure | Unset = UNSET
    priority: None | PriorityChoice | Unset = UNSET
    report: None | ReportRequest | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.bundle_request import BundleRequest # noqa: PLC0415
        from ..models.certificate_request import CertificateRequest # noqa: PLC0415
        from ..models.email_request import EmailRequest # noqa: PLC0415
        from ..models.report_request import ReportRequest # noqa: PLC0415
        from ..models.step_batch import StepBatch # noqa: PLC0415
        kind = self.kind.value

        name = self.name

        after: list[str] | Unset = UNSET
        if not isinstance(self.after, Unset):
            after = self.after



        archive: dict[str, Any] | None | Unset
        if isinstance(self.archive, Unset):
            archive = UNSET
        elif isinstance(self.archive, BundleRequest):
            archive = self.archive.to_dict()
        else:
            archive = self.archive

        batch: dict[str, Any] | None | Unset
        if isinstance(self.batch, Unset):
            batch = UNSET
        elif isinstance(self.batch, StepBatch):
            batch = self.batch.to_dict()
        else:
            batch = self.batch

        certificate: dict[str, Any] | None | Unset
        if isinstance(self.certificate, Unset):
            certificate = UNSET
        elif isinstance(self.certificate, CertificateRequest):
            certificate = self.certificate.to_dict()
        else:
            certificate = self.certificate

        email: dict[str, Any] | None | Unset
        if isinstance(self.email, Unset):
            email = UNSET
        elif isinstance(self.email, EmailRequest):
            email = self.email.to_dict()
        else:
            email = self.email

        merge: dict[str, Any] | None | Unset
        if isinstance(self.merge, Unset):
            merge = UNSET
        elif isinstance(self.merge, BundleRequest):
            merge = self.merge.to_dict()
        else:
            merge = self.merge

        on_parent_failure: str | Unset = UNSET
        if not isinstance(self.on_parent_failure, Unset):
            on_parent_failure = self.on_parent_failure.value


        priority: None | str | Unset
        if isinstance(self.priority, Unset):
            priority = UNSET
        elif isinstance(self.priority, PriorityChoice):
            priority = self.priority.value
        else:
            priority = self.priority

        report: dict[str, Any] | None | Unset
        if isinstance(self.report, Unset):
            report = UNSET
        elif isinstance(self.report, ReportRequest):
            report = self.report.to_dict()
        else:
            report = self.report


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "kind": kind,
            "name": name,
        })
        if after is not UNSET:
            field_dict["after"] = after
        if archive is not UNSET:
            field_dict["archive"] = archive
        if batch is not UNSET:
            field_dict["batch"] = batch
        if certificate is not UNSET:
            field_dict["certificate"] = certificate
        if email is not UNSET:
            field_dict["email"] = email
        if merge is not UNSET:
            field_dict["merge"] = merge
        if on_parent_failure is not UNSET:
            field_dict["on_parent_failure"] = on_parent_failure
        if priority is not UNSET:
            field_dict["priority"] = priority
        if report is not UNSET:
            field_dict["report"] = report

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.bundle_request import BundleRequest # noqa: PLC0415
        from ..models.certificate_request import CertificateRequest # noqa: PLC0415
        from ..models.email_request import EmailRequest # noqa: PLC0415
        from ..models.report_request import ReportRequest # noqa: PLC0415
        from ..models.step_batch import StepBatch # noqa: PLC0415
        d = dict(src_dict)
        kind = StepKind(d.pop("kind"))




        name = d.pop("name")

        after = cast(list[str], d.pop("after", UNSET))


        def _parse_archive(data: object) -> BundleRequest | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                archive_type_1 = BundleRequest.from_dict(data)



                return archive_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(BundleRequest | None | Unset, data)

        archive = _parse_archive(d.pop("archive", UNSET))


        def _parse_batch(data: object) -> None | StepBatch | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                batch_type_1 = StepBatch.from_dict(data)



                return batch_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | StepBatch | Unset, data)

        batch = _parse_batch(d.pop("batch", UNSET))


        def _parse_certificate(data: object) -> CertificateRequest | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                certificate_type_1 = CertificateRequest.from_dict(data)



                return certificate_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CertificateRequest | None | Unset, data)

        certificate = _parse_certificate(d.pop("certificate", UNSET))


        def _parse_email(data: object) -> EmailRequest | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                email_type_1 = EmailRequest.from_dict(data)



                return email_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(EmailRequest | None | Unset, data)

        email = _parse_email(d.pop("email", UNSET))


        def _parse_merge(data: object) -> BundleRequest | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                merge_type_1 = BundleRequest.from_dict(data)



                return merge_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(BundleRequest | None | Unset, data)

        merge = _parse_merge(d.pop("merge", UNSET))


        _on_parent_failure = d.pop("on_parent_failure", UNSET)
        on_parent_failure: OnParentFailure | Unset
        if isinstance(_on_parent_failure,  Unset):
            on_parent_failure = UNSET
        else:
            on_parent_failure = OnParentFailure(_on_parent_failure)




        def _parse_priority(data: object) -> None | PriorityChoice | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                priority_type_1 = PriorityChoice(data)



                return priority_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PriorityChoice | Unset, data)

        priority = _parse_priority(d.pop("priority", UNSET))


        def _parse_report(data: object) -> None | ReportRequest | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                report_type_1 = ReportRequest.from_dict(data)



                return report_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ReportRequest | Unset, data)

        report = _parse_report(d.pop("report", UNSET))


        step_request = cls(
            kind=kind,
            name=name,
            after=after,
            archive=archive,
            batch=batch,
            certificate=certificate,
            email=email,
            merge=merge,
            on_parent_failure=on_parent_failure,
            priority=priority,
            report=report,
        )

        return step_request

