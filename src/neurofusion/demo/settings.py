"""Every tunable number of the demo cohort generator, in one frozen dataclass.

The settings are written into ``truth.json`` so a generated cohort says how it was made.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class DemoSettings:
    # --- cohort -------------------------------------------------------------------
    n_subjects: int = 44
    n_without_scan: int = 2          # the LAST n IDs get no scan (the workflow relies on it)
    n_without_proteins: int = 2      # chosen at random among subjects that have a scan
    sites: tuple[str, ...] = ("siteA", "siteB", "siteC")

    # --- signal split: severity | label ~ N(mean, 1), MRI and protein independent ---
    severity_mean_cn: float = 0.0
    severity_mean_ad: float = 1.8    # d' = 1.8 -> one modality AUC ~0.90, both ~0.96

    # --- MRI atrophy (template mm) ------------------------------------------------
    atrophy_centers_mm: tuple[tuple[float, float, float], ...] = ((-26.0, -22.0, -14.0), (26.0, -22.0, -14.0))
    atrophy_radius_mm: float = 16.0
    atrophy_per_severity: float = 0.35   # fraction of tissue replaced by CSF at the centre
    atrophy_max: float = 0.8

    # --- head pose and shape ----------------------------------------------------------
    max_rotation_deg: float = 15.0
    scale_range: tuple[float, float] = (0.9, 1.1)
    max_translation_mm: float = 20.0
    deformation_mm: float = 2.0          # RMS amplitude of the smooth warp
    deformation_wavelength_mm: tuple[float, float] = (70.0, 140.0)

    # --- acquisition --------------------------------------------------------------------
    orientations: tuple[str, ...] = ("RAS", "LAS", "LPS", "PIR", "ASL", "LIP")
    voxel_size_range_mm: tuple[float, float] = (1.4, 2.0)
    anisotropic_fraction: float = 0.4    # share of scans with a thicker slice axis (<= 2.0 mm)
    fov_margin_mm: float = 6.0
    fov_lowest_z_mm: float = -105.0      # template z where the field of view cuts the neck
    bias_strength: float = 0.2           # log-amplitude of the multiplicative bias field
    noise_range: tuple[float, float] = (0.015, 0.035)  # Rician sigma / white-matter signal
    gain_range: tuple[float, float] = (700.0, 1300.0)  # int16 value of white matter

    # --- proteins -------------------------------------------------------------------
    protein_effect_npx: float = 1.0      # NPX shift per unit protein severity (planted assays)
    protein_noise_planted: float = 0.3   # residual SD of planted assays (NPX)
    n_unprefixed_samples: int = 3        # sample IDs written as "007" instead of "sub-007"
    n_warn_samples: int = 2              # samples with QC_Warning = WARN
    replicate_count: int = 1             # subjects measured twice (same SampleID, two wells)
    explore_version: str = "6.0.0"

    def to_json(self) -> dict:
        return asdict(self)
