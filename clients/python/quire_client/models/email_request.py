from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.email_template_name import EmailTemplateName
from ..models.priority_choice import PriorityChoice
from ..types import UNSET, Unset
from typing import cast
from uuid import UUID
import datetime

if TYPE_CHECKING:
  from ..models.email_request_vars import EmailRequestVars





T = TypeVar("T", bound="EmailRequest")



@_attrs_define
class EmailRequest:
    """ An email to send. `run_at` and `delay_secs` exclude each other.

        Attributes:
            template (EmailTemplateName): The email templates `POST /v1/emails` knows: exactly the built-in ones.
            to (list[str]): 1 to 50 addresses
            attachments (list[UUID] | Unset): Ids of the caller's own succeeded jobs whose PDFs to attach (another is a
                422).
            bcc (list[str] | Unset): At most 50 addresses
            callback_url (None | str | Unset): Deliver this job's end (`job.succeeded`, `job.dead` or `job.cancelled`) to
                this URL
                too, signed like a webhook with the key's callback secret
                (`GET /v1/webhooks/callback-secret`). Checked like a webhook's URL (422
                `invalid_url`, `forbidden_target`). Example: https://example.com/hooks/quire.
            cc (list[str] | Unset): At most 50 addresses
            delay_secs (int | None | Unset): Start no earlier than this many seconds from now (at most a year). Not with
                `run_at`.
            priority (None | PriorityChoice | Unset):
            reply_to (None | str | Unset):
            run_at (datetime.datetime | None | Unset): Start no earlier than this RFC 3339 instant: the job is `scheduled`
                until then (and
                can be cancelled meanwhile). An instant already past means now; at most a year ahead
                (else 422 `too_far_ahead`). Not with `delay_secs`. Example: 2026-12-24T18:00:00Z.
            subject (None | str | Unset): Replaces the template's subject. Admin keys only, unless the setting
                `email.generic_for_all` is on.
            vars_ (EmailRequestVars | Unset):
     """

    template: EmailTemplateName
    to: list[str]
    attachments: list[UUID] | Unset = UNSET
    bcc: list[str] | Unset = UNSET
    callback_url: None | str | Unset = UNSET
    cc: list[str] | Unset = UNSET
    delay_secs: int | None | Unset = UNSET
    priority: None | PriorityChoice | Unset = UNSET
    reply_to: None | str | Unset = UNSET
    run_at: datetime.datetime | None | Unset = UNSET
    subject: None | str | Unset = UNSET
    vars_: EmailRequestVars | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.email_request_vars import EmailRequestVars # noqa: PLC0415
        template = self.template.value

        to = self.to



        attachments: list[str] | Unset = UNSET
        if not isinstance(self.attachments, Unset):
            attachments = []
            for attachments_item_data in self.attachments:
                attachments_item = str(attachments_item_data)
                attachments.append(attachments_item)



        bcc: list[str] | Unset = UNSET
        if not isinstance(self.bcc, Unset):
            bcc = self.bcc



        callback_url: None | str | Unset
        if isinstance(self.callback_url, Unset):
            callback_url = UNSET
        else:
            callback_url = self.callback_url

        cc: list[str] | Unset = UNSET
        if not isinstance(self.cc, Unset):
            cc = self.cc



        delay_secs: int | None | Unset
        if isinstance(self.delay_secs, Unset):
            delay_secs = UNSET
        else:
            delay_secs = self.delay_secs

        priority: None | str | Unset
        if isinstance(self.priority, Unset):
            priority = UNSET
        elif isinstance(self.priority, PriorityChoice):
            priority = self.priority.value
        else:
            priority = self.priority

        reply_to: None | str | Unset
        if isinstance(self.reply_to, Unset):
            reply_to = UNSET
        else:
            reply_to = self.reply_to

        run_at: None | str | Unset
        if isinstance(self.run_at, Unset):
            run_at = UNSET
        elif isinstance(self.run_at, datetime.datetime):
            run_at = self.run_at.isoformat()
        else:
            run_at = self.run_at

        subject: None | str | Unset
        if isinstance(self.subject, Unset):
            subject = UNSET
        else:
            subject = self.subject

        vars_: dict[str, Any] | Unset = UNSET
        if not isinstance(self.vars_, Unset):
            vars_ = self.vars_.to_dict()


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "template": template,
            "to": to,
        })
        if attachments is not UNSET:
            field_dict["attachments"] = attachments
        if bcc is not UNSET:
            field_dict["bcc"] = bcc
        if callback_url is not UNSET:
            field_dict["callback_url"] = callback_url
        if cc is not UNSET:
            field_dict["cc"] = cc
        if delay_secs is not UNSET:
            field_dict["delay_secs"] = delay_secs
        if priority is not UNSET:
            field_dict["priority"] = priority
        if reply_to is not UNSET:
            field_dict["reply_to"] = reply_to
        if run_at is not UNSET:
            field_dict["run_at"] = run_at
        if subject is not UNSET:
            field_dict["subject"] = subject
        if vars_ is not UNSET:
            field_dict["vars"] = vars_

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.email_request_vars import EmailRequestVars # noqa: PLC0415
        d = dict(src_dict)
        template = EmailTemplateName(d.pop("template"))




        to = cast(list[str], d.pop("to"))


        _attachments = d.pop("attachments", UNSET)
        attachments: list[UUID] | Unset = UNSET
        if _attachments is not UNSET:
            attachments = []
            for attachments_item_data in _attachments:
                attachments_item = UUID(attachments_item_data)



                attachments.append(attachments_item)


        bcc = cast(list[str], d.pop("bcc", UNSET))


        def _parse_callback_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        callback_url = _parse_callback_url(d.pop("callback_url", UNSET))


        cc = cast(list[str], d.pop("cc", UNSET))


        def _parse_delay_secs(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        delay_secs = _parse_delay_secs(d.pop("delay_secs", UNSET))


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


        def _parse_reply_to(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reply_to = _parse_reply_to(d.pop("reply_to", UNSET))


        def _parse_run_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                run_at_type_0 = datetime.datetime.fromisoformat(data)



                return run_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        run_at = _parse_run_at(d.pop("run_at", UNSET))


        def _parse_subject(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        subject = _parse_subject(d.pop("subject", UNSET))


        _vars_ = d.pop("vars", UNSET)
        vars_: EmailRequestVars | Unset
        if isinstance(_vars_,  Unset):
            vars_ = UNSET
        else:
            vars_ = EmailRequestVars.from_dict(_vars_)




        email_request = cls(
            template=template,
            to=to,
            attachments=attachments,
            bcc=bcc,
            callback_url=callback_url,
            cc=cc,
            delay_secs=delay_secs,
            priority=priority,
            reply_to=reply_to,
            run_at=run_at,
            subject=subject,
            vars_=vars_,
        )

        return email_request

