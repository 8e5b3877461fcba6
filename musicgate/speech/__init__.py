"""Spoken words with the same recurrent core: features, datasets, a sequence classifier.

``features`` (WAV -> log-mel / MFCC), ``data`` (digits.npz, FSDD and Speech Commands folders),
``synth`` (synthetic digits from eSpeak NG), ``classify`` (packed-sequence classifier, training,
evaluation, streaming, checkpoints).
"""
from musicgate.speech.classify import (Evaluation, SpeechClassifier, ClassifierTraining, confusion_matrix, evaluate,
                       load_checkpoint, per_class_report, plot_confusion, predict, save_checkpoint,
                       stream, train_classifier)
from musicgate.speech.data import (DIGIT_NAMES, SpeechSet, Split, commands_hash_split, commands_splits,
                   fsdd_official_split, leave_one_speaker_out, load_commands, load_fsdd, load_npz,
                   save_npz, speaker_folds, stratified_split)
from musicgate.speech.sources import load_spec
from musicgate.speech.features import (FeatureConfig, add_deltas, features, file_features, log_mel, normalize,
                       read_audio)
from musicgate.speech.synth import SynthSettings, load_synth, load_synth_split, synthesize_digits

__all__ = [
    "FeatureConfig", "read_audio", "log_mel", "add_deltas", "normalize", "features", "file_features",
    "SpeechSet", "Split", "DIGIT_NAMES", "load_npz", "save_npz", "stratified_split", "load_fsdd",
    "fsdd_official_split", "leave_one_speaker_out", "speaker_folds", "commands_hash_split",
    "commands_splits", "load_commands", "load_spec", "SynthSettings", "synthesize_digits",
    "load_synth", "load_synth_split", "SpeechClassifier", "ClassifierTraining", "Evaluation",
    "train_classifier", "predict", "stream", "evaluate", "confusion_matrix", "per_class_report",
    "plot_confusion", "save_checkpoint", "load_checkpoint",
]
