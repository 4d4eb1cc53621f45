"""Run records: the documented, versioned file format between the trainer and everything else.

The trainer (:mod:`ltbound.train`) writes one record per run with :class:`RecordWriter`; the
bound code, the main job and the paper checks read it with :func:`load_record`. numpy and
json only (no torch). One idea per module:

* :mod:`~ltbound.records.format`: the format (its fields, documented there), version,
  manifest checksum, and :func:`derive_run_fields`, the migration of older manifests;
* :mod:`~ltbound.records.verify`: file hashes, arrays, the split and the history cross-checks;
  checkpoint verification (:func:`checkpoint_path`);
* :mod:`~ltbound.records.split`: the split against its protocol (data set, imbalance, seed);
* :mod:`~ltbound.records.read`: :func:`load_record` and :class:`RunRecord`;
* :mod:`~ltbound.records.write`: :class:`RecordWriter`, its lock, :func:`add_file`;
* :mod:`~ltbound.records.compact`: :func:`compact_record`;
* :mod:`~ltbound.records.identity`: which records are runs of one experiment;
* the loss vocabulary (:data:`LOSSES`, :func:`check_loss`) lives in :mod:`ltbound.losses`.
"""

from ..losses import BOUNDED_LOSSES, LOSSES, check_loss
from .compact import compact_record
from .format import (LAYOUTS, READABLE_VERSIONS, RECORD_FORMAT, RECORD_VERSION, STATUSES, RecordError,
                     derive_run_fields, json_default, manifest_checksum, read_manifest, training_settings,
                     write_manifest)
from .identity import check_one_experiment, check_same_test_set
from .read import RunRecord, load_record, read_file
from .split import SPLIT_CHECKS, check_split_protocol
from .verify import checkpoint_epochs, checkpoint_path
from .write import (DETERMINISM_FIELDS, LOCK_NAME, RecordWriter, _Lock, add_file, clear_unfinished, foreign_files,
                    is_writer_debris, probe_lock, refuse_foreign_files, remove_temp_files)

__all__ = ["BOUNDED_LOSSES", "LOSSES", "check_loss", "compact_record", "LAYOUTS", "READABLE_VERSIONS",
           "RECORD_FORMAT", "RECORD_VERSION", "STATUSES", "RecordError", "derive_run_fields", "json_default",
           "manifest_checksum", "read_manifest", "training_settings", "write_manifest", "check_one_experiment", "check_same_test_set",
           "RunRecord", "load_record", "read_file", "SPLIT_CHECKS", "check_split_protocol", "checkpoint_epochs",
           "checkpoint_path", "DETERMINISM_FIELDS", "LOCK_NAME", "RecordWriter", "add_file", "clear_unfinished",
           "is_writer_debris", "probe_lock", "remove_temp_files", "foreign_files", "refuse_foreign_files"]
