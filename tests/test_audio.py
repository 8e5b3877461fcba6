"""Audio rendering with a General MIDI soundfont (musicgate.music.audio, ``musicgate render``)."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile
from conftest import shared_path
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from musicgate.music.audio import (PEAK, TAIL_SECONDS, _channels, check_soundfont, default_soundfont,
                             fluidsynth_available, normalize, render, render_file)
from musicgate.cli import main
from musicgate.errors import AudioError, MidiError
from musicgate.music.midi import read_midi, write_midi
from musicgate.music.notes import DRUM_PROGRAM, Notes

SR = 22050  # half rate keeps the tests fast; the default 44100 is tested through render_file


def one_note(pitch=69, *, program=0, beats=2.0, qpm=120.0) -> Notes:
    return Notes.from_arrays([pitch], [0.0], [beats], [100], program=[program], tempos=[[0.0, qpm]])


def dominant_hz(audio: np.ndarray, sr: int) -> float:
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    seg = mono[int(0.1 * sr): int(0.6 * sr)]
    spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    return float(np.fft.rfftfreq(len(seg), 1 / sr)[np.argmax(spec)])


def test_default_soundfont_is_pretty_midis_sf2():
    path = default_soundfont()
    assert path.name == "TimGM6mb.sf2" and path.stat().st_size > 1_000_000
    assert check_soundfont(None) == path


def test_a4_sounds_at_440_hz_stereo_float32_normalized():
    audio = render(one_note(69), sample_rate=SR, backend="tinysoundfont")
    assert audio.dtype == np.float32 and audio.ndim == 2 and audio.shape[1] == 2
    assert np.max(np.abs(audio)) == pytest.approx(PEAK, abs=1e-6)
    assert dominant_hz(audio, SR) == pytest.approx(440.0, rel=0.02)
    # an octave up doubles the fundamental
    assert dominant_hz(render(one_note(81), sample_rate=SR, backend="tinysoundfont"), SR) \
        == pytest.approx(880.0, rel=0.02)


def test_length_follows_the_tempo_map_and_the_release_tail():
    slow = render(one_note(beats=4.0, qpm=60.0), sample_rate=SR, backend="tinysoundfont")
    fast = render(one_note(beats=4.0, qpm=120.0), sample_rate=SR, backend="tinysoundfont")
    assert 4.0 * SR <= len(slow) <= (4.0 + TAIL_SECONDS) * SR
    assert 2.0 * SR <= len(fast) <= (2.0 + TAIL_SECONDS) * SR
    assert len(slow) > len(fast) + 1.5 * SR
    # sound starts at the onset: the first 20 ms of a note at beat 1 (0.5 s) are silent
    late = Notes.from_arrays([60], [1.0], [1.0], [100])
    audio = render(late, sample_rate=SR, backend="tinysoundfont", normalized=False)
    assert np.abs(audio[: int(0.49 * SR)]).max() == 0.0
    assert np.abs(audio[int(0.5 * SR): int(0.7 * SR)]).max() > 0.01


def test_programs_and_drums_sound_different():
    piano = render(one_note(60, program=0), sample_rate=SR, backend="tinysoundfont", mono=True)
    violin = render(one_note(60, program=40), sample_rate=SR, backend="tinysoundfont", mono=True)
    drum = render(one_note(36, program=DRUM_PROGRAM), sample_rate=SR, backend="tinysoundfont", mono=True)
    assert piano.ndim == 1 and drum.ndim == 1
    n = min(len(piano), len(violin), len(drum), SR)
    for other in (violin, drum):
        corr = np.corrcoef(piano[:n], other[:n])[0, 1]
        assert abs(corr) < 0.5
    assert np.abs(drum).max() > 0.5  # normalized, so not silent


def test_channels_put_drums_on_channel_10_and_skip_it_for_others():
    n = 12
    notes = Notes.from_arrays([60] * n + [36], [0.0] * (n + 1), [1.0] * (n + 1),
                              program=list(range(n)) + [DRUM_PROGRAM], track=list(range(n + 1)))
    chan, programs = _channels(notes)
    assert chan[notes.program == DRUM_PROGRAM].tolist() == [9]
    pitched = chan[notes.program != DRUM_PROGRAM]
    assert 9 not in pitched.tolist() and len(set(pitched.tolist())) == n
    assert (9, DRUM_PROGRAM) in programs


def test_render_file_writes_a_44k_wav_without_clipping(tmp_path):
    notes = Notes.from_arrays([60, 64, 67, 72], [0, 0, 0, 1.0], [1.0, 1.0, 1.0, 1.0], [127] * 4,
                              program=[0, 0, 48, 73], track=[0, 0, 1, 2])
    mid = write_midi(notes, tmp_path / "chord.mid")
    wav = render_file(mid, backend="tinysoundfont")
    assert wav == tmp_path / "chord.wav"
    data, sr = soundfile.read(wav)
    assert sr == 44100 and data.ndim == 2 and data.shape[1] == 2
    assert 0.98 <= np.abs(data).max() <= 0.99 + 1e-4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chord.mid", "chord.wav"]  # no temp files


def test_real_multitrack_with_drums_renders(tmp_path):
    path = shared_path("midi", "multitrack", "Funkytown.mid")
    notes = read_midi(path, drums=True)
    excerpt = notes.select(notes.onset < 8.0)
    assert (excerpt.program == DRUM_PROGRAM).any()
    audio = render(excerpt, sample_rate=SR, backend="tinysoundfont")
    assert np.isfinite(audio).all() and np.abs(audio).max() == pytest.approx(PEAK, abs=1e-6)
    assert len(audio) >= float(excerpt.end_seconds.max()) * SR


@settings(max_examples=40, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 50), st.just(2)),
              elements=st.floats(-8, 8, width=32)))
def test_normalize_peaks_at_099_or_keeps_silence(audio):
    out = normalize(audio)
    assert out.dtype == np.float32 and out.shape == audio.shape
    if np.abs(audio).max() == 0:
        assert (out == 0).all()
    else:
        assert np.abs(out).max() == pytest.approx(PEAK, rel=1e-5)
        assert np.abs(out).max() <= PEAK + 1e-6


# -- bad input ---------------------------------------------------------------------------------
def test_missing_soundfont(tmp_path):
    with pytest.raises(AudioError, match="no such soundfont"):
        render(one_note(), soundfont=tmp_path / "nope.sf2", sample_rate=SR)


def test_soundfont_that_is_not_sf2(tmp_path):
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(b"this is not a soundfont at all")
    with pytest.raises(AudioError, match="not a SoundFont"):
        render(one_note(), soundfont=bad, sample_rate=SR)


def test_truncated_soundfont(tmp_path):
    bad = tmp_path / "truncated.sf2"
    bad.write_bytes(default_soundfont().read_bytes()[:5000])
    with pytest.raises(AudioError, match="could not be loaded"):
        render(one_note(), soundfont=bad, sample_rate=SR, backend="tinysoundfont")


def test_midi_with_no_notes_is_an_error(tmp_path):
    with pytest.raises(AudioError, match="no notes"):
        render(Notes.empty(), sample_rate=SR)
    empty = write_midi(Notes.empty(), tmp_path / "empty.mid")
    with pytest.raises(AudioError, match="no notes"):
        render_file(empty)
    assert not (tmp_path / "empty.wav").exists()
    with pytest.raises(AudioError, match="no notes"):
        render_file(shared_path("midi", "one_track", "empty.mid"), tmp_path / "e.wav")


def test_unreadable_midi(tmp_path):
    junk = tmp_path / "junk.mid"
    junk.write_bytes(b"MThd\x00\x00garbage")
    with pytest.raises(MidiError):
        render_file(junk)
    with pytest.raises(MidiError, match="no such MIDI file"):
        render_file(tmp_path / "missing.mid")


@pytest.mark.parametrize("rate", [0, 100, 10**6, 44100.5, True])
def test_bad_sample_rate(rate):
    with pytest.raises(AudioError, match="sample rate"):
        render(one_note(), sample_rate=rate)


def test_unknown_backend():
    with pytest.raises(AudioError, match="unknown audio backend"):
        render(one_note(), sample_rate=SR, backend="timidity")


def test_fluidsynth_backend_renders_or_says_what_is_missing():
    if fluidsynth_available():
        audio = render(one_note(69), sample_rate=SR, backend="fluidsynth")
        assert dominant_hz(audio, SR) == pytest.approx(440.0, rel=0.02)
    else:
        with pytest.raises(AudioError, match="libfluidsynth"):
            render(one_note(69), sample_rate=SR, backend="fluidsynth")


# -- CLI ---------------------------------------------------------------------------------------
def test_cli_render(tmp_path, capsys):
    mid = write_midi(one_note(64, beats=1.0), tmp_path / "e.mid")
    wav = tmp_path / "out" / "e.wav"
    assert main(["render", str(mid), "-o", str(wav), "--sample-rate", "22050",
                 "--backend", "tinysoundfont"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {wav}" in out and "22050 Hz" in out
    assert soundfile.info(str(wav)).samplerate == 22050


def test_cli_render_bad_soundfont_is_one_line(tmp_path, capsys):
    mid = write_midi(one_note(), tmp_path / "a.mid")
    assert main(["render", str(mid), "--soundfont", str(tmp_path / "x.sf2")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("musicgate: error:") and "x.sf2" in err and "\n" not in err
