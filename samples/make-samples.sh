#!/usr/bin/env bash
# Regenerates the sample clips (Debian's ffmpeg: libx264 + aac). Each is 10 s, H.264 + AAC,
# 640x360 at 25 fps with a keyframe every second, well under 1 MB.
set -euo pipefail
cd "$(dirname "$0")"
common=(-hide_banner -loglevel error -y
  -f lavfi -i "testsrc2=size=640x360:rate=25"
  -f lavfi -i "sine=frequency=440:beep_factor=4:sample_rate=44100"
  -t 10 -c:v libx264 -preset medium -profile:v main -pix_fmt yuv420p -g 25 -keyint_min 25 -sc_threshold 0
  -b:v 300k -maxrate 400k -bufsize 400k -c:a aac -b:a 64k -ac 2)
ffmpeg "${common[@]}" -f flv sample.flv
ffmpeg "${common[@]}" -f mpegts sample.ts
ls -l sample.flv sample.ts

# The "source offline" slate that the default savate.yaml plays while a mount has no live source:
# same codecs and parameters as the samples above, so switches need no decoder re-initialisation
# beyond new sequence headers. (drawtext needs a font: Debian's fonts-dejavu-core.)
offline=(-hide_banner -loglevel error -y
  -f lavfi -i "smptebars=size=640x360:rate=25"
  -f lavfi -i "sine=frequency=220:sample_rate=44100"
  -t 6 -vf "drawtext=text='Source offline':fontsize=44:fontcolor=white:box=1:boxcolor=black@0.6:x=(w-tw)/2:y=h-80"
  -c:v libx264 -preset medium -profile:v main -pix_fmt yuv420p -g 25 -keyint_min 25 -sc_threshold 0
  -b:v 150k -maxrate 300k -bufsize 300k -c:a aac -b:a 48k -ac 2)
ffmpeg "${offline[@]}" -f flv offline.flv
ffmpeg "${offline[@]}" -f mpegts offline.ts
ls -l offline.flv offline.ts
