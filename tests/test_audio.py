"""Audio rendering with a General MIDI soundfont (musicgate.music.audio, ``musicgate render``)."""
from __future__ import annotations

import io
import sys

import numpy as np
import pytest
import soundfile
from conftest import shared_path
from hypothesis import given, settings, example
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from musicgate.music.audio import (PEAK, TAIL_SECONDS, _channels, check_soundfont, default_soundfont,
                                   fluidsynth_available, midirenderer_available, normalize, render,
                                   render_file, resolve_backend, tinysoundfont_available)
from musicgate.cli import main
from musicgate.errors import AudioError, MidiError
from musicgate.music.midi import read_midi, write_midi
from musicgate.music import midirender
from musicgate.music.notes import DRUM_PROGRAM, Notes

SR = 22050  # half rate keeps the tests fast; the default 44100 is tested through render_file
INSTALLED = [name for name, ok in (("midirenderer", midirenderer_available()),
                                   ("tinysoundfont", tinysoundfont_available()),
                                   ("fluidsynth", fluidsynth_available())) if ok]
each_backend = pytest.mark.parametrize("backend", INSTALLED or [pytest.param("none", marks=pytest.mark.skip(
    reason="no synthesizer is installed"))])


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


def test_midirenderer_is_the_default_when_installed():
    assert resolve_backend("auto") == INSTALLED[0]
    if midirenderer_available():
        assert INSTALLED[0] == "midirenderer"


@each_backend
def test_a4_sounds_at_440_hz_stereo_float32_normalized(backend):
    audio = render(one_note(69), sample_rate=SR, backend=backend)
    assert audio.dtype == np.float32 and audio.ndim == 2 and audio.shape[1] == 2
    assert np.max(np.abs(audio)) == pytest.approx(PEAK, abs=1e-6)
    assert dominant_hz(audio, SR) == pytest.approx(440.0, rel=0.02)
    # an octave up doubles the fundamental
    assert dominant_hz(render(one_note(81), sample_rate=SR, backend=backend), SR) \
        == pytest.approx(880.0, rel=0.02)


@each_backend
def test_length_follows_the_tempo_map_and_the_release_tail(backend):
    slow = render(one_note(beats=4.0, qpm=60.0), sample_rate=SR, backend=backend)
    fast = render(one_note(beats=4.0, qpm=120.0), sample_rate=SR, backend=backend)
    assert 4.0 * SR <= len(slow) <= (4.0 + TAIL_SECONDS) * SR
    assert 2.0 * SR <= len(fast) <= (2.0 + TAIL_SECONDS) * SR
    assert len(slow) > len(fast) + 1.5 * SR
    # sound starts at the onset: the first 20 ms of a note at beat 1 (0.5 s) are silent
    late = Notes.from_arrays([60], [1.0], [1.0], [100])
    audio = render(late, sample_rate=SR, backend=backend, normalized=False)
    assert np.abs(audio[: int(0.49 * SR)]).max() < 1e-6
    assert np.abs(audio[int(0.5 * SR): int(0.7 * SR)]).max() > 0.01


@each_backend
def test_programs_and_drums_sound_different(backend):
    piano = render(one_note(60, program=0), sample_rate=SR, backend=backend, mono=True)
    violin = render(one_note(60, program=40), sample_rate=SR, backend=backend, mono=True)
    drum = render(one_note(36, program=DRUM_PROGRAM), sample_rate=SR, backend=backend, mono=True)
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


@each_backend
def test_render_file_writes_a_44k_wav_without_clipping(tmp_path, backend):
    notes = Notes.from_arrays([60, 64, 67, 72], [0, 0, 0, 1.0], [1.0, 1.0, 1.0, 1.0], [127] * 4,
                              program=[0, 0, 48, 73], track=[0, 0, 1, 2])
    mid = write_midi(notes, tmp_path / "chord.mid")
    wav = render_file(mid, backend=backend)
    assert wav == tmp_path / "chord.wav"
    data, sr = soundfile.read(wav)
    assert sr == 44100 and data.ndim == 2 and data.shape[1] == 2
    assert 0.98 <= np.abs(data).max() <= 0.99 + 1e-4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chord.mid", "chord.wav"]  # no temp files


@each_backend
def test_real_multitrack_with_drums_renders(tmp_path, backend):
    path = shared_path("midi", "multitrack", "Funkytown.mid")
    notes = read_midi(path, drums=True)
    excerpt = notes.select(notes.onset < 8.0)
    assert (excerpt.program == DRUM_PROGRAM).any()
    audio = render(excerpt, sample_rate=SR, backend=backend)
    assert np.isfinite(audio).all() and np.abs(audio).max() == pytest.approx(PEAK, abs=1e-6)
    assert len(audio) >= float(excerpt.end_seconds.max()) * SR


@settings(max_examples=40, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 50), st.just(2)),
              elements=st.floats(-8, 8, width=32)))
@example(np.full((1, 2), 1e-45, np.float32))  # a denormal: its float32 gain overflowed to inf
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


@each_backend
def test_truncated_soundfont(tmp_path, backend):
    bad = tmp_path / "truncated.sf2"
    bad.write_bytes(default_soundfont().read_bytes()[:5000])
    with pytest.raises(AudioError, match="could not"):  # FluidSynth: "could not load"
        render(one_note(), soundfont=bad, sample_rate=SR, backend=backend)


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
    assert main(["render", str(mid), "-o", str(wav), "--sample-rate", "22050"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {wav}" in out and "22050 Hz" in out
    assert soundfile.info(str(wav)).samplerate == 22050


def test_cli_render_bad_soundfont_is_one_line(tmp_path, capsys):
    mid = write_midi(one_note(), tmp_path / "a.mid")
    assert main(["render", str(mid), "--soundfont", str(tmp_path / "x.sf2")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("musicgate render: error:") and "x.sf2" in err and "\n" not in err


# -- the midirenderer backend ------------------------------------------------------------------
needs_midirenderer = pytest.mark.skipif(not midirenderer_available(), reason="midirenderer is not installed")


@pytest.mark.parametrize("backend, package, phrase", [("midirenderer", "midirenderer", "pip install midirenderer"),
                                                       ("tinysoundfont", "tinysoundfont", "pip install --no-deps")])
def test_a_missing_renderer_is_one_clear_line(monkeypatch, backend, package, phrase):
    monkeypatch.setitem(sys.modules, package, None)  # import fails as if it were not installed
    with pytest.raises(AudioError, match=phrase) as info:
        render(one_note(), sample_rate=SR, backend=backend)
    assert "\n" not in str(info.value) and backend in str(info.value)


def test_auto_with_no_renderer_installed_says_what_to_install(monkeypatch, tmp_path, capsys):
    for package in ("midirenderer", "tinysoundfont", "fluidsynth"):
        monkeypatch.setitem(sys.modules, package, None)
    with pytest.raises(AudioError, match="no synthesizer is installed: pip install midirenderer"):
        render(one_note(), sample_rate=SR)
    mid = write_midi(one_note(), tmp_path / "a.mid")
    assert main(["render", str(mid)]) == 2
    err = capsys.readouterr().err.strip()
    assert "pip install midirenderer" in err and "\n" not in err
    assert not (tmp_path / "a.wav").exists()


def _held(notes: Notes) -> int:
    return midirender._held_peak(np.round(notes.onset_seconds * midirender.RATE).astype(np.int64),
                                 np.maximum(np.round(notes.end_seconds * midirender.RATE).astype(np.int64),
                                            np.round(notes.onset_seconds * midirender.RATE).astype(np.int64) + 1))


note_lists = st.lists(st.tuples(st.integers(21, 108), st.integers(0, 63), st.integers(1, 24),
                                st.integers(1, 127), st.sampled_from([0, 0, 48, 40, DRUM_PROGRAM]),
                                st.integers(0, 20)), min_size=1, max_size=120)


def _notes(rows) -> Notes:
    pitch, on, dur, vel, prog, track = map(list, zip(*rows))
    return Notes.from_arrays(pitch, [o / 4 for o in on], [d / 4 for d in dur], vel, program=prog, track=track)


@settings(max_examples=60, deadline=None)
@given(note_lists, st.integers(1, 12))
def test_passes_cover_every_note_once_within_the_voice_and_channel_limits(rows, held):
    notes = _notes(rows)
    parts = midirender.passes(notes, held=held)
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(notes)))
    for idx in parts:
        mask = np.zeros(len(notes), bool)
        mask[idx] = True
        part = notes.select(mask)
        assert _held(part) <= held
        pitched = {(t, p) for t, p in zip(part.track.tolist(), part.program.tolist()) if p != DRUM_PROGRAM}
        assert len(pitched) <= midirender.PITCHED_CHANNELS
    if _held(notes) <= held and len(set(zip(notes.track.tolist(), notes.program.tolist()))) <= 15:
        assert len(parts) == 1  # music within the limits is rendered in one pass


@settings(max_examples=60, deadline=None)
@given(note_lists, st.sampled_from([60.0, 97.0, 180.0]))
def test_midi_bytes_round_trip_at_one_tick_a_sample(rows, qpm):
    rows = [r for r in rows if r[5] < 8][:40] or rows[:1]  # at most 15 pitched groups in one file
    notes = Notes.from_arrays(*map(list, zip(*[(p, o / 4, d / 4, v) for p, o, d, v, *_ in rows])),
                              program=[r[4] for r in rows], track=[min(r[5], 7) for r in rows],
                              tempos=[[0.0, qpm]])
    end = int(np.round(notes.end_seconds.max() * midirender.RATE)) + 480
    back = read_midi(midirender.midi_bytes(notes, end), drums=True)
    key = lambda n: sorted(zip(np.round(n.onset_seconds * 48000).astype(int).tolist(), n.pitch.tolist(),
                               np.round(n.end_seconds * 48000).astype(int).tolist(), n.velocity.tolist(),
                               n.program.tolist()))
    assert key(back) == key(notes)


@needs_midirenderer
def test_a_dense_string_chord_loses_no_voice():
    # 20 held string notes start up to 120 voices: more than rustysynth's 64 in one pass
    pitches = list(range(48, 68))
    chord = Notes.from_arrays(pitches, [0.0] * 20, [2.0] * 20, [100] * 20, program=[48] * 20)
    assert len(midirender.passes(chord)) == 2
    whole = render(chord, sample_rate=SR, backend="midirenderer", normalized=False)
    alone = [render(one_note(p, program=48), sample_rate=SR, backend="midirenderer", normalized=False)
             for p in pitches]
    n = min(len(whole), *map(len, alone))
    total = sum(a[:n] for a in alone)
    residual = np.sum((whole[:n] - total) ** 2) / np.sum(total ** 2)
    assert residual < 1e-3  # the chord is the sum of its notes (a stolen voice leaves -10 dB or worse)


@needs_midirenderer
def test_a_pass_that_reaches_full_scale_is_rendered_again_quieter(monkeypatch):
    import midirenderer

    signal = np.sin(np.linspace(0, 60, 2400))[:, None] * np.array([[0.5, 0.4]])  # at CC7 100: 1.8x full scale
    volumes = []

    def fake(sf2, midi):
        volume = midi[midi.index(b"\xb0\x07") + 2]
        volumes.append(volume)
        pcm = np.clip(signal * 3.6 * (volume / 100) ** 2 * 32768, -32768, 32767).astype("<i2")
        out = io.BytesIO()
        soundfile.write(out, pcm, 48000, subtype="PCM_16", format="WAV")
        return out.getvalue()

    monkeypatch.setattr(midirenderer, "render_wave_from", fake)
    audio = midirender._render_pass(b"", default_soundfont(), one_note(beats=0.05), 2400)
    assert volumes == [100, 50]  # full scale at 100, clear at 50
    np.testing.assert_allclose(audio, signal * 3.6, atol=5e-4)  # scaled back, not clipped


@needs_midirenderer
@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 96000])
def test_midirenderer_resamples_to_any_rate(rate):
    audio = render(one_note(69, beats=1.0), sample_rate=rate, backend="midirenderer")
    assert 0.5 * rate <= len(audio) <= (0.5 + TAIL_SECONDS) * rate + 1
    assert dominant_hz(audio, rate) == pytest.approx(440.0, rel=0.02)
