"""A synthetic longitudinal breast DCE-MRI cohort for demos, tests and benchmarks.

`generate_cohort` writes, per patient, two DCE exams (baseline and early, i.e. after two
courses of neoadjuvant therapy) as classic DICOM MR series with several dynamic phases,
tumour segmentations of reader 1 (all patients) and reader 2 (a fraction) as NRRD label maps
on the DICOM grid, and a cohort.csv with the study's clinical variables, the post-therapy
ultrasound read and the outcome (axillary lymph node pCR = 1), plus a ready study.yaml.

What the method can find (default ``effect = 1``; see `deltarad.synthetic.response`): between
the exams, tumours of pCR patients shrink more (mean diameter ratio 0.72 vs 0.88), lose more
peak enhancement (0.74 vs 0.96), become more homogeneous (texture amplitude 0.68 vs 1.02) and
lose more peritumoral oedema and halo enhancement (0.74 vs 0.96, a weaker, partly independent
signal). Within-group spread keeps the outcome from being read off perfectly: a perfect
reading of the intratumoral latent would give an AUC of about 0.88, the peritumoral one
about 0.76. With ``effect = 0`` the images are independent of the outcome; the clinical
signal (subtype, receptors, ultrasound) stays.

The layout written::

    study.yaml  cohort.csv
    patients/DR0001/baseline/DCE/IM00001.dcm ...    (phases x slices files)
    patients/DR0001/baseline/tumour_reader1.nrrd    (tumour_reader2.nrrd where read twice)
    patients/DR0001/early/...

DCE phase index p (0 = pre-contrast) is TemporalPositionIdentifier p + 1; the study analyses
index 3, the 3rd post-injection phase.
"""

from deltarad.synthetic.cohort import generate_cohort

__all__ = ["generate_cohort"]
