#!/bin/sh
# Rebuilds the bundled font subsets in this directory (see README.md).
#
# Needs Debian or Ubuntu (apt-get download and dpkg -x: nothing is installed
# system-wide, no root needed) and fonttools:  pip install fonttools==4.68.0
#
# Usage: templates/fonts/build.sh            (writes next to this script)
#        PACKAGES="fonts-noto-core fonts-noto-cjk kanjidic" templates/fonts/build.sh
#                                            (whatever versions apt has today)
set -eu

# The versions the committed files were made from (Debian 12 "bookworm").
PACKAGES=${PACKAGES:-"fonts-noto-core=20201225-1 fonts-noto-cjk=1:20220127+repack1-1 kanjidic=2022.08.23"}

out=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# shellcheck disable=SC2086 # one word per package
apt-get download $PACKAGES
for deb in ./*.deb; do dpkg -x "$deb" root; done
noto=root/usr/share/fonts/truetype/noto
cjk=root/usr/share/fonts/opentype/noto

# Keep the licence and description name records; drop hinting (PDFs do not use
# it). Unlisted layout features are dropped, so the Latin and Arabic fonts keep
# all of theirs ('*'): Arabic shaping needs init/medi/fina/rlig and friends.
common="--no-hinting --name-IDs=0,1,2,3,4,5,6,7,8,9,11,12,13,14"

# Latin (with Vietnamese and IPA), Greek, Cyrillic, punctuation, currency,
# letterlike symbols, number forms and arrows.
lgc="U+0000-036F,U+0370-03FF,U+0400-052F,U+1AB0-1AFF,U+1C80-1C8F,U+1D00-1DFF"
lgc="$lgc,U+1E00-1EFF,U+1F00-1FFF,U+2000-21FF,U+2212,U+2215,U+2C60-2C7F"
lgc="$lgc,U+2DE0-2DFF,U+2E00-2E7F,U+A640-A69F,U+A720-A7FF,U+AB30-AB6F"
lgc="$lgc,U+FB00-FB06,U+FEFF,U+FFFD"
for font in NotoSerif-Regular NotoSerif-Bold NotoSerif-Italic NotoSans-Regular NotoSans-Bold; do
  # shellcheck disable=SC2086
  pyftsubset "$noto/$font.ttf" $common --unicodes="$lgc" --layout-features='*' \
    --output-file="$out/$font.ttf"
done

# Arabic script (with the Persian/Urdu letters and presentation forms), ASCII
# digits and punctuation, and the bidi controls.
arabic="U+0020-007E,U+00A0,U+00AB,U+00BB,U+0600-06FF,U+0750-077F,U+08A0-08FF"
arabic="$arabic,U+200C-200F,U+2010-2015,U+2018-201F,U+2026,U+202A-202E,U+2066-2069"
arabic="$arabic,U+25CC,U+FB50-FDFF,U+FE70-FEFF"
for font in NotoNaskhArabic-Regular NotoNaskhArabic-Bold NotoSansArabic-Regular NotoSansArabic-Bold; do
  # shellcheck disable=SC2086
  pyftsubset "$noto/$font.ttf" $common --unicodes="$arabic" --layout-features='*' \
    --output-file="$out/$font.ttf"
done

# CJK: the Simplified Chinese face of Noto Sans CJK (face 2 of the .ttc), cut
# down to GB 2312 (all 6,763 hanzi, levels 1 and 2), the 2,136 Jōyō kanji and
# the Jinmeiyō kanji for personal names (from KANJIDIC's grades G1-G8 and
# G9-G10, plus the four 2010 Jōyō additions outside JIS X 0208, which KANJIDIC
# does not list), and below the kana, CJK punctuation and full-width forms.
python3 - <<'EOF'
import re

chars = set()
for row in range(0xB0, 0xF8):          # GB 2312 hanzi rows 16-87
    for cell in range(0xA1, 0xFF):
        try:
            chars.add(bytes([row, cell]).decode("gb2312"))
        except UnicodeDecodeError:
            pass
with open("root/usr/share/edict/kanjidic", "rb") as f:
    kanjidic = f.read().decode("euc_jp")
for line in kanjidic.splitlines():
    if not line.startswith("#") and re.search(r" G([1-9]|10) ", line):
        chars.add(line[0])
chars.update("\U00020B9F\u5861\u525D\u9830")  # 𠮟 塡 剝 頰
with open("cjk.txt", "w", encoding="utf-8") as f:
    f.write("".join(sorted(chars)))
print(f"CJK ideographs: {len(chars)}")
EOF
# CJK symbols and punctuation, hiragana, katakana (with the phonetic
# extensions), half- and full-width forms, and the Latin the face carries.
kana="U+0020-007E,U+00A0-00FF,U+2010-2027,U+2030-205E,U+3000-30FF,U+31F0-31FF,U+FF00-FFEF"
# Language-specific glyph variants (locl) and vertical forms would pull in
# thousands of extra glyphs; typst sets these fonts horizontally and the names
# are not language-tagged, so the Simplified Chinese forms are used throughout.
for weight in Regular Bold; do
  # shellcheck disable=SC2086
  pyftsubset "$cjk/NotoSansCJK-$weight.ttc" --font-number=2 $common \
    --text-file=cjk.txt --unicodes="$kana" \
    --layout-features-=locl,vert,vrt2,vkna,vhal,vpal,vkrn \
    --output-file="$out/NotoSansCJKsc-$weight-subset.otf"
done

# The licence, as the CJK package ships it (the same OFL 1.1 covers both packages).
python3 - "$out/OFL.txt" <<'EOF'
import sys

lines, inside = [], False
with open("root/usr/share/doc/fonts-noto-cjk/copyright", encoding="utf-8") as f:
    for line in f:
        if line.rstrip() == "License: SIL-1.1":
            inside = True
            continue
        if inside:
            if not line.startswith(" "):
                if lines:  # the stanza with the text, not a file stanza's reference
                    break
                inside = False
                continue
            text = line[1:].rstrip("\n")
            lines.append("" if text == "." else text)
if not lines:
    sys.exit("OFL text not found in the fonts-noto-cjk copyright file")
header = """The fonts in this directory are subsets (see README.md) of:

Noto Serif, Noto Sans: Copyright 2015 Google LLC. All Rights Reserved.
Noto Naskh Arabic: Copyright 2019-2020 Google LLC. All Rights Reserved.
Noto Sans Arabic: Copyright 2015-2020 Google LLC. All Rights Reserved.
Noto Sans CJK SC: (c) 2014-2021 Adobe (http://www.adobe.com/), with Reserved
Font Name 'Source' (not used by these fonts).

They are licensed under the SIL Open Font License, Version 1.1:

"""
with open(sys.argv[1], "w", encoding="utf-8") as f:
    f.write(header + "\n".join(lines).rstrip() + "\n")
EOF

ls -l "$out"
du -ch "$out"/*.ttf "$out"/*.otf | tail -n 1
