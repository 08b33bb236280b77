from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.job_view import JobView





T = TypeVar("T", bound="ScheduleView")



@_attrs_define
class ScheduleView:
    """ A schedule as configured, with its state.

        Attributes:
            cron (str): Cron expression, seconds first.
            enabled (bool): Disabled in configuration: no scheduler fires it.
            missed (str): Ticks missed while no scheduler ran: `skip` or `run-once` (on start).
            name (str):
            overlap (bool): Whether a tick runs while the previous run is unfinished.
            paused (bool): Paused through the API: ticks enqueue nothing until resumed.
            task (str): The maintenance task each tick enqueues: `rescue`, `cleanup`, `health`,
                `db-maintenance` or `cache-warm`.
            timezone (str): IANA time zone the expression is read in.
            last_run (JobView | None | Unset):
            last_tick_at (None | str | Unset): The latest tick a scheduler handled (enqueued or skipped).
            next_run_at (None | str | Unset): The next tick (RFC 3339); null when disabled or paused.
     """

    cron: str
    enabled: bool
    missed: str
    name: str
    overlap: bool
    paused: bool
    task: str
    timezone: str
    last_run: JobView | None | Unset = UNSET
    last_tick_at: None | str | Unset = UNSET
    next_run_at: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.job_view import JobView # noqa: PLC0415
        cron = self.cron

        enabled = self.enabled

        missed = self.missed

        name = self.name

        overlap = self.overlap

        paused = self.paused

        task = self.task

        timezone = self.timezone

        last_run: dict[str, Any] | None | Unset
        if isinstance(self.last_run, Unset):
            last_run = UNSET
        elif isinstance(self.last_run, JobView):
            last_run = self.last_run.to_dict()
        else:
            last_run = self.last_run

        last_tick_at: None | str | Unset
        if isinstance(self.last_tick_at, Unset):
            last_tick_at = UNSET
        else:
            last_tick_at = self.last_tick_at

        next_run_at: None | str | Unset
        if isinstance(self.next_run_at, Unset):
            next_run_at = UNSET
        else:
            next_run_at = self.next_run_at


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "cron": cron,
            "enabled": enabled,
            "missed": missed,
            "name": name,
            "overlap": overlap,
            "paused": paused,
            "task": task,
            "timezone": timezone,
        })
        if last_run is not UNSET:
            field_dict["last_run"] = last_run
        if last_tick_at is not UNSET:
            field_dict["last_tick_at"] = last_tick_at
        if next_run_at is not UNSET:
            field_dict["next_run_at"] = next_run_at

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.job_view import JobView # noqa: PLC0415
        d = dict(src_dict)
        cron = d.pop("cron")

        enabled = d.pop("enabled")

        missed = d.pop("missed")

        name = d.pop("name")

        overlap = d.pop("overlap")

        paused = d.pop("paused")

        task = d.pop("task")

        timezone = d.pop("timezone")

        def _parse_last_run(data: object) -> JobView | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                last_run_type_1 = JobView.from_dict(data)



                return last_run_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(JobView | None | Unset, data)

        last_run = _parse_last_run(d.pop("last_run", UNSET))


        def _parse_last_tick_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        last_tick_at = _parse_last_tick_at(d.pop("last_tick_at", UNSET))


        def _parse_next_run_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        next_run_at = _parse_next_run_at(d.pop("next_run_at", UNSET))


        schedule_view = cls(
            cron=cron,
            enabled=enabled,
            missed=missed,
            name=name,
            overlap=overlap,
            paused=paused,
            task=task,
            timezone=timezone,
            last_run=last_run,
            last_tick_at=last_tick_at,
            next_run_at=next_run_at,
        )


        schedule_view.additional_properties = d
        return schedule_view

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
