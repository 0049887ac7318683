"""DICOM exams read by content: files found whatever their names, one header pass into frame
records (classic and Enhanced MR alike), frames grouped into series, dynamics and complete
volumes, and only the chosen volume's pixels read.

finding: which files are DICOM images; headers: the header pass; enhanced: Enhanced MR frames;
grouping: series -> dynamics -> volumes, and which series make the DCE exam; reading: one
SimpleITK volume from chosen frames; exam: the whole path, with the notes of what was inferred.
"""

from deltarad.imaging.dicom.exam import read_dicom_exam

__all__ = ["read_dicom_exam"]
