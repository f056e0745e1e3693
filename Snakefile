# neurofusion: raw T1 scans + protein assay exports -> cross-attention fusion model for AD.
# Run `snakemake --cores 8`; with no config of your own it runs the embedded demo cohort.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/cohort.smk"
include: "workflow/rules/imaging.smk"
include: "workflow/rules/embeddings.smk"
include: "workflow/rules/proteins.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"


rule all:
    input:
        final_outputs(),
    default_target: True
