from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset






T = TypeVar("T", bound="ImageInput")



@_attrs_define
class ImageInput:
    """ 
        Attributes:
            image (str): Base64 JPEG, PNG or WebP, checked like certificate photos (else 422).
            caption (str | Unset):
     """

    image: str
    caption: str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        image = self.image

        caption = self.caption


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "image": image,
        })
        if caption is not UNSET:
            field_dict["caption"] = caption

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        image = d.pop("image")

        caption = d.pop("caption", UNSET)

        image_input = cls(
            image=image,
            caption=caption,
        )

        return image_input

