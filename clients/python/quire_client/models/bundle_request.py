from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="BundleRequest")



@_attrs_define
class BundleRequest:
    """ A `merge` or `archive` step's file.

        Attributes:
            filename (None | str | Unset): The file's name in downloads and attachments (default `<step>.pdf` or
                `<step>.zip`).
     """

    filename: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        filename: None | str | Unset
        if isinstance(self.filename, Unset):
            filename = UNSET
        else:
            filename = self.filename


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if filename is not UNSET:
            field_dict["filename"] = filename

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        def _parse_filename(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        filename = _parse_filename(d.pop("filename", UNSET))


        bundle_request = cls(
            filename=filename,
        )

        return bundle_request

