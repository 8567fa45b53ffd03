"""The paper's own generality numbers (section 4 and appendix B: Tables 3, 6-11), shown beside ours.

These are the paper's results, never ours, transcribed as printed (4 decimals; the bold/italic
markers of the best scores dropped). Setting: roberta-base, 5 seeds, unless a docstring says otherwise
(Table 8: XLM-RoBERTa-base). Table 1 lives in `repro.report.paper_table1`.

Column scheme (every accessor): the keys are the DataFrame index, named ``variant``,
``primary_task`` and/or ``subset_size``; each measure is a pair of float columns
``"<measure> paper mean"`` and ``"<measure> paper std"`` (std over the 5 seeds). Measures:

- ``primary``: test score on the primary task (the task the variant was tuned on);
- ``mlm``: MLM precision@1 of the tuned embedding network (Table 3: difference to the initial one);
- ``gap``: negative train/test gap, test minus train score (higher is better);
- ``secondary``, ``secondary_diff``: secondary score difference to full fine-tuning of the
  pretrained network, averaged over the secondary tasks; ``secondary_decoder``: same for a tuned
  decoder only (Table 3);
- ``conll03``, ``qnli``, ``sst2``, ``trec6``: score of full fine-tuning on that secondary task after
  the variant was applied on the primary task (Tables 7, 10, 11); Table 9: primary score on that task;
- Table 8: ``"<task> decoder"`` / ``"<task> full"`` for a secondary tuned decoder / full fine-tuning.

Variants use our names: "full", "full+l1:0.01" (regularised full fine-tuning, coefficient as f"{x:g}"),
"lora" (rank 4), "lora:R", "random", "bitfit", "largest_pretrain_sqgrad", "largest_downstream_sqgrad",
"combined", "diff_pruning" (pruning with re-training), "diff_pruning_no_retrain" (w/o re-training).
Row order is the paper's.
"""
from __future__ import annotations

import pandas as pd

TASKS = ("conll03", "qnli", "sst2", "trec6")

# Table 3: differences averaged over the 4 primary tasks (and all secondary tasks), per variant.
TABLE3_MEASURES = ("primary", "mlm", "gap", "secondary", "secondary_decoder")
TABLE3 = {
    "full": ((0.0000, 0.0023), (-0.0584, 0.0172), (-0.0402, 0.0189), (-0.0020, 0.0026), (0.0421, 0.1070)),
    "full+l1:0.01": ((-0.0290, 0.0178), (-0.0274, 0.0087), (-0.0025, 0.0194), (-0.0029, 0.0039), (0.0423, 0.1015)),
    "full+l1:0.1": ((-0.0527, 0.0264), (-0.0299, 0.0180), (0.0068, 0.0174), (-0.0018, 0.0029), (0.0401, 0.0845)),
    "full+l2:0.01": ((-0.0025, 0.0034), (-0.0431, 0.0114), (-0.0376, 0.0208), (-0.0035, 0.0036), (0.0330, 0.1188)),
    "full+l2:0.1": ((-0.0028, 0.0028), (-0.0293, 0.0060), (-0.0311, 0.0204), (-0.0042, 0.0041), (0.0614, 0.1114)),
    "lora": ((-0.0077, 0.0041), (-0.0742, 0.0109), (-0.0225, 0.0218), (-0.0271, 0.1153), (0.0014, 0.1127)),
    "random": ((-0.0133, 0.0079), (-0.0675, 0.0270), (-0.0245, 0.0200), (-0.0054, 0.0038), (0.0387, 0.1290)),
    "bitfit": ((-0.0159, 0.0068), (-0.1202, 0.0392), (-0.0066, 0.0174), (-0.0026, 0.0029), (-0.0096, 0.1583)),
    "largest_pretrain_sqgrad": ((-0.0172, 0.0073), (-0.1469, 0.0436), (-0.0092, 0.0212), (-0.0051, 0.0039), (-0.0225, 0.1367)),
    "largest_downstream_sqgrad": ((-0.0150, 0.0061), (-0.1162, 0.0328), (-0.0078, 0.0195), (-0.0046, 0.0040), (0.0033, 0.1356)),
    "combined": ((-0.0118, 0.0061), (-0.1140, 0.0249), (-0.0072, 0.0187), (-0.0039, 0.0038), (0.0112, 0.1382)),
    "diff_pruning": ((-0.0119, 0.0073), (-0.0613, 0.0195), (-0.0238, 0.0205), (-0.0054, 0.0039), (0.0543, 0.1280)),
    "diff_pruning_no_retrain": ((-0.0173, 0.0057), (-0.0496, 0.0125), (-0.0021, 0.0193), (-0.0014, 0.0032), (0.0451, 0.1162)),
}

# Table 6: per primary task and variant (subset size similar to BitFit).
TABLE6_MEASURES = ("primary", "secondary_diff", "mlm")
TABLE6 = {
    "conll03": {
        "full": ((0.9217, 0.0009), (-0.0025, 0.0025), (0.3756, 0.0024)),
        "random": ((0.9087, 0.0011), (-0.0039, 0.0038), (0.3754, 0.0061)),
        "bitfit": ((0.9080, 0.0013), (-0.0023, 0.0023), (0.3481, 0.0033)),
        "largest_pretrain_sqgrad": ((0.9073, 0.0014), (-0.0063, 0.0034), (0.2965, 0.0048)),
        "largest_downstream_sqgrad": ((0.9073, 0.0018), (-0.0049, 0.0042), (0.3283, 0.0033)),
        "combined": ((0.9082, 0.0020), (-0.0046, 0.0037), (0.3316, 0.0019)),
        "diff_pruning": ((0.9108, 0.0023), (-0.0070, 0.0047), (0.3552, 0.0063)),
        "diff_pruning_no_retrain": ((0.9002, 0.0010), (-0.0015, 0.0030), (0.3891, 0.0028)),
    },
    "qnli": {
        "full": ((0.9290, 0.0016), (-0.0020, 0.0016), (0.4067, 0.0016)),
        "random": ((0.9048, 0.0026), (-0.0056, 0.0029), (0.3817, 0.0031)),
        "bitfit": ((0.9039, 0.0016), (-0.0038, 0.0029), (0.2595, 0.0151)),
        "largest_pretrain_sqgrad": ((0.9037, 0.0026), (-0.0027, 0.0019), (0.3040, 0.0125)),
        "largest_downstream_sqgrad": ((0.9075, 0.0009), (-0.0037, 0.0035), (0.3461, 0.0113)),
        "combined": ((0.9100, 0.0018), (-0.0028, 0.0033), (0.3407, 0.0103)),
        "diff_pruning": ((0.9059, 0.0024), (-0.0051, 0.0036), (0.3828, 0.0056)),
        "diff_pruning_no_retrain": ((0.9102, 0.0014), (-0.0013, 0.0032), (0.3825, 0.0028)),
    },
    "sst2": {
        "full": ((0.9468, 0.0012), (-0.0012, 0.0020), (0.3957, 0.0062)),
        "random": ((0.9342, 0.0025), (-0.0077, 0.0038), (0.3394, 0.0059)),
        "bitfit": ((0.9383, 0.0024), (-0.0019, 0.0023), (0.3393, 0.0036)),
        "largest_pretrain_sqgrad": ((0.9378, 0.0048), (-0.0021, 0.0023), (0.3531, 0.0036)),
        "largest_downstream_sqgrad": ((0.9399, 0.0028), (-0.0017, 0.0027), (0.3611, 0.0029)),
        "combined": ((0.9431, 0.0030), (-0.0011, 0.0025), (0.3582, 0.0030)),
        "diff_pruning": ((0.9390, 0.0040), (-0.0051, 0.0035), (0.3854, 0.0036)),
        "diff_pruning_no_retrain": ((0.9376, 0.0054), (-0.0021, 0.0033), (0.3950, 0.0021)),
    },
    "trec6": {
        "full": ((0.9752, 0.0042), (-0.0022, 0.0031), (0.3669, 0.0073)),
        "random": ((0.9720, 0.0029), (-0.0022, 0.0030), (0.4135, 0.0033)),
        "bitfit": ((0.9592, 0.0054), (-0.0024, 0.0036), (0.3505, 0.0056)),
        "largest_pretrain_sqgrad": ((0.9552, 0.0056), (-0.0091, 0.0045), (0.2354, 0.0112)),
        "largest_downstream_sqgrad": ((0.9580, 0.0045), (-0.0067, 0.0037), (0.2781, 0.0133)),
        "combined": ((0.9644, 0.0027), (-0.0048, 0.0042), (0.2936, 0.0099)),
        "diff_pruning": ((0.9696, 0.0015), (-0.0026, 0.0025), (0.4097, 0.0037)),
        "diff_pruning_no_retrain": ((0.9556, 0.0020), (-0.0003, 0.0024), (0.4149, 0.0031)),
    },
}

# Table 7: per primary task and variant; one secondary measure per task (full fine-tuning on it).
TABLE7_MEASURES = ("primary", "mlm") + TASKS
TABLE7 = {
    "conll03": {
        "bitfit": ((0.9080, 0.0013), (0.3481, 0.0033), (0.9213, 0.0014), (0.9269, 0.0016), (0.9433, 0.0026), (0.9720, 0.0024)),
        "combined": ((0.9082, 0.0020), (0.3316, 0.0019), (0.9197, 0.0020), (0.9239, 0.0014), (0.9383, 0.0021), (0.9724, 0.0048)),
        "full": ((0.9217, 0.0009), (0.3756, 0.0024), (0.9206, 0.0019), (0.9255, 0.0009), (0.9433, 0.0039), (0.9732, 0.0023)),
        "largest_downstream_sqgrad": ((0.9073, 0.0018), (0.3283, 0.0033), (0.9204, 0.0017), (0.9248, 0.0014), (0.9358, 0.0021), (0.9720, 0.0024)),
        "largest_pretrain_sqgrad": ((0.9073, 0.0014), (0.2965, 0.0048), (0.9180, 0.0017), (0.9235, 0.0020), (0.9381, 0.0032), (0.9680, 0.0047)),
        "diff_pruning_no_retrain": ((0.9002, 0.0010), (0.3891, 0.0028), (0.9218, 0.0021), (0.9277, 0.0013), (0.9424, 0.0031), (0.9748, 0.0036)),
        "diff_pruning": ((0.9108, 0.0023), (0.3552, 0.0063), (0.9186, 0.0038), (0.9179, 0.0013), (0.9369, 0.0041), (0.9712, 0.0033)),
        "random": ((0.9087, 0.0011), (0.3754, 0.0061), (0.9188, 0.0013), (0.9233, 0.0021), (0.9394, 0.0040), (0.9756, 0.0017)),
    },
    "qnli": {
        "bitfit": ((0.9039, 0.0016), (0.2595, 0.0151), (0.9188, 0.0022), (0.9248, 0.0015), (0.9406, 0.0026), (0.9736, 0.0033)),
        "combined": ((0.9100, 0.0018), (0.3407, 0.0103), (0.9173, 0.0016), (0.9256, 0.0009), (0.9420, 0.0019), (0.9768, 0.0036)),
        "full": ((0.9290, 0.0016), (0.4067, 0.0016), (0.9206, 0.0013), (0.9270, 0.0015), (0.9450, 0.0014), (0.9720, 0.0020)),
        "largest_downstream_sqgrad": ((0.9075, 0.0009), (0.3461, 0.0113), (0.9182, 0.0004), (0.9257, 0.0013), (0.9388, 0.0021), (0.9752, 0.0033)),
        "largest_pretrain_sqgrad": ((0.9037, 0.0026), (0.3040, 0.0125), (0.9184, 0.0015), (0.9257, 0.0010), (0.9445, 0.0033), (0.9732, 0.0011)),
        "diff_pruning_no_retrain": ((0.9102, 0.0014), (0.3825, 0.0028), (0.9193, 0.0020), (0.9263, 0.0017), (0.9447, 0.0030), (0.9772, 0.0036)),
        "diff_pruning": ((0.9059, 0.0024), (0.3828, 0.0056), (0.9161, 0.0024), (0.9240, 0.0020), (0.9399, 0.0055), (0.9724, 0.0033)),
        "random": ((0.9048, 0.0026), (0.3817, 0.0031), (0.9175, 0.0015), (0.9246, 0.0027), (0.9385, 0.0031), (0.9696, 0.0030)),
    },
    "sst2": {
        "bitfit": ((0.9383, 0.0024), (0.3393, 0.0036), (0.9199, 0.0011), (0.9281, 0.0018), (0.9445, 0.0037), (0.9728, 0.0023)),
        "combined": ((0.9431, 0.0030), (0.3582, 0.0030), (0.9196, 0.0012), (0.9268, 0.0009), (0.9472, 0.0037), (0.9748, 0.0027)),
        "full": ((0.9468, 0.0012), (0.3957, 0.0062), (0.9205, 0.0012), (0.9284, 0.0011), (0.9443, 0.0019), (0.9748, 0.0030)),
        "largest_downstream_sqgrad": ((0.9399, 0.0028), (0.3611, 0.0029), (0.9192, 0.0017), (0.9277, 0.0018), (0.9450, 0.0014), (0.9740, 0.0051)),
        "largest_pretrain_sqgrad": ((0.9378, 0.0048), (0.3531, 0.0036), (0.9197, 0.0010), (0.9278, 0.0016), (0.9450, 0.0024), (0.9720, 0.0037)),
        "diff_pruning_no_retrain": ((0.9376, 0.0054), (0.3950, 0.0021), (0.9199, 0.0020), (0.9262, 0.0006), (0.9461, 0.0030), (0.9720, 0.0057)),
        "diff_pruning": ((0.9390, 0.0040), (0.3854, 0.0036), (0.9166, 0.0007), (0.9222, 0.0022), (0.9420, 0.0057), (0.9716, 0.0036)),
        "random": ((0.9342, 0.0025), (0.3394, 0.0059), (0.9142, 0.0029), (0.9183, 0.0034), (0.9420, 0.0047), (0.9676, 0.0017)),
    },
    "trec6": {
        "bitfit": ((0.9592, 0.0054), (0.3505, 0.0056), (0.9192, 0.0011), (0.9306, 0.0004), (0.9415, 0.0044), (0.9720, 0.0032)),
        "combined": ((0.9644, 0.0027), (0.2936, 0.0099), (0.9161, 0.0008), (0.9252, 0.0031), (0.9378, 0.0045), (0.9744, 0.0030)),
        "full": ((0.9752, 0.0042), (0.3669, 0.0073), (0.9197, 0.0009), (0.9290, 0.0024), (0.9420, 0.0047), (0.9732, 0.0018)),
        "largest_downstream_sqgrad": ((0.9580, 0.0045), (0.2781, 0.0133), (0.9169, 0.0014), (0.9237, 0.0017), (0.9365, 0.0021), (0.9688, 0.0058)),
        "largest_pretrain_sqgrad": ((0.9552, 0.0056), (0.2354, 0.0112), (0.9154, 0.0016), (0.9205, 0.0031), (0.9365, 0.0033), (0.9640, 0.0076)),
        "diff_pruning_no_retrain": ((0.9556, 0.0020), (0.4149, 0.0031), (0.9207, 0.0023), (0.9285, 0.0013), (0.9486, 0.0025), (0.9740, 0.0024)),
        "diff_pruning": ((0.9696, 0.0015), (0.4097, 0.0037), (0.9206, 0.0015), (0.9252, 0.0013), (0.9427, 0.0024), (0.9740, 0.0032)),
        "random": ((0.9720, 0.0029), (0.4135, 0.0033), (0.9200, 0.0012), (0.9275, 0.0023), (0.9415, 0.0014), (0.9748, 0.0041)),
    },
}

# Table 8 (XLM-RoBERTa-base): primary task conll03 (English) per subset size and variant; secondary
# tasks German CoNLL-03 and TREC-6, tuning only a decoder or fully.
TABLE8_MEASURES = ("primary", "conll03_de decoder", "conll03_de full", "trec6 decoder", "trec6 full")
# Table 8 caption: German CoNLL-03 score of full fine-tuning on the pretrained model (mean, std).
TABLE8_GERMAN_BASELINE = (0.8724, 0.0023)
TABLE8 = {
    0.0001: {
        "combined": ((0.8874, 0.0017), (0.7808, 0.0058), (0.8659, 0.0041), (0.5048, 0.0934), (0.9624, 0.0054)),
        "largest_downstream_sqgrad": ((0.8849, 0.0039), (0.7749, 0.0025), (0.8648, 0.0033), (0.5252, 0.0354), (0.9660, 0.0065)),
        "largest_pretrain_sqgrad": ((0.8665, 0.0023), (0.7419, 0.0056), (0.8608, 0.0035), (0.4928, 0.0966), (0.9660, 0.0051)),
        "diff_pruning_no_retrain": ((0.8867, 0.0016), (0.7926, 0.0025), (0.8717, 0.0017), (0.4860, 0.0462), (0.9716, 0.0046)),
        "diff_pruning": ((0.8618, 0.0028), (0.4617, 0.0134), (0.8598, 0.0035), (0.3048, 0.0539), (0.9636, 0.0048)),
        "random": ((0.8590, 0.0026), (0.3151, 0.0210), (0.8504, 0.0049), (0.2576, 0.0095), (0.9572, 0.0041)),
    },
    0.001: {
        "combined": ((0.8962, 0.0009), (0.7868, 0.0055), (0.8690, 0.0025), (0.4708, 0.0768), (0.9700, 0.0032)),
        "largest_downstream_sqgrad": ((0.8980, 0.0025), (0.7883, 0.0041), (0.8704, 0.0033), (0.4468, 0.0389), (0.9700, 0.0032)),
        "largest_pretrain_sqgrad": ((0.8910, 0.0027), (0.7655, 0.0087), (0.8654, 0.0029), (0.5488, 0.0318), (0.9640, 0.0081)),
        "diff_pruning_no_retrain": ((0.8891, 0.0019), (0.7899, 0.0019), (0.8719, 0.0009), (0.4972, 0.0256), (0.9700, 0.0051)),
        "diff_pruning": ((0.8986, 0.0013), (0.7410, 0.0030), (0.8578, 0.0047), (0.4404, 0.0632), (0.9680, 0.0051)),
        "random": ((0.9000, 0.0020), (0.7430, 0.0106), (0.8581, 0.0035), (0.3924, 0.0724), (0.9684, 0.0057)),
    },
    0.01: {
        "combined": ((0.9081, 0.0019), (0.7896, 0.0066), (0.8682, 0.0027), (0.4524, 0.0713), (0.9656, 0.0078)),
        "largest_downstream_sqgrad": ((0.9078, 0.0018), (0.7991, 0.0027), (0.8683, 0.0020), (0.4240, 0.0770), (0.9696, 0.0017)),
        "largest_pretrain_sqgrad": ((0.9028, 0.0012), (0.7671, 0.0040), (0.8636, 0.0056), (0.5052, 0.0278), (0.9636, 0.0033)),
        "diff_pruning_no_retrain": ((0.9078, 0.0015), (0.7987, 0.0047), (0.8727, 0.0034), (0.5352, 0.0276), (0.9680, 0.0047)),
        "diff_pruning": ((0.9121, 0.0019), (0.7912, 0.0040), (0.8668, 0.0027), (0.5316, 0.0415), (0.9704, 0.0017)),
        "random": ((0.9112, 0.0022), (0.7927, 0.0022), (0.8670, 0.0038), (0.4956, 0.0478), (0.9636, 0.0038)),
    },
    0.1: {
        "combined": ((0.9135, 0.0026), (0.7918, 0.0052), (0.8661, 0.0051), (0.5112, 0.0363), (0.9676, 0.0043)),
        "largest_downstream_sqgrad": ((0.9139, 0.0026), (0.7881, 0.0037), (0.8629, 0.0043), (0.5420, 0.0248), (0.9696, 0.0048)),
        "largest_pretrain_sqgrad": ((0.9117, 0.0020), (0.7811, 0.0049), (0.8664, 0.0019), (0.5196, 0.0528), (0.9660, 0.0062)),
        "diff_pruning_no_retrain": ((0.9080, 0.0017), (0.7989, 0.0047), (0.8720, 0.0028), (0.5332, 0.0301), (0.9688, 0.0052)),
        "diff_pruning": ((0.9123, 0.0019), (0.7885, 0.0057), (0.8651, 0.0051), (0.5536, 0.0417), (0.9688, 0.0066)),
        "random": ((0.9108, 0.0017), (0.7701, 0.0064), (0.8638, 0.0044), (0.4304, 0.1021), (0.9656, 0.0055)),
    },
}

# Table 9: LoRA per rank: (rank, parameter share, score per task in TASKS order).
TABLE9 = {
    "lora:1": (1, 0.0003, ((0.9059, 0.0025), (0.9072, 0.0026), (0.9353, 0.0043), (0.9636, 0.0043))),
    "lora:2": (2, 0.0006, ((0.9114, 0.0020), (0.9133, 0.0022), (0.9353, 0.0039), (0.9652, 0.0039))),
    "lora:3": (3, 0.0009, ((0.9129, 0.0011), (0.9157, 0.0026), (0.9360, 0.0039), (0.9692, 0.0048))),
    "lora": (4, 0.0012, ((0.9139, 0.0018), (0.9165, 0.0021), (0.9406, 0.0031), (0.9708, 0.0041))),
    "lora:16": (16, 0.0047, ((0.9173, 0.0009), (0.9202, 0.0014), (0.9404, 0.0054), (0.9712, 0.0046))),
    "lora:64": (64, 0.0189, ((0.9185, 0.0020), (0.9217, 0.0009), (0.9399, 0.0029), (0.9744, 0.0033))),
}

# Table 10: LoRA rank 4 per primary task; measures as in Table 7.
TABLE10 = {
    "conll03": ((0.9139, 0.0016), (0.3659, 0.0125), (0.9173, 0.0014), (0.9166, 0.0017), (0.9385, 0.0046), (0.9708, 0.0033)),
    "qnli": ((0.9165, 0.0020), (0.3776, 0.0112), (0.9167, 0.0005), (0.9260, 0.0021), (0.9392, 0.0035), (0.8792, 0.1997)),
    "sst2": ((0.9406, 0.0028), (0.3737, 0.0046), (0.9173, 0.0009), (0.9218, 0.0013), (0.9420, 0.0015), (0.8112, 0.3484)),
    "trec6": ((0.9708, 0.0038), (0.3659, 0.0089), (0.9178, 0.0009), (0.9227, 0.0025), (0.9411, 0.0024), (0.9700, 0.0014)),
}

# Table 11: regularised full fine-tuning per primary task; the printed "11"/"12" are l1/l2.
TABLE11_MEASURES = ("primary", "gap", "mlm") + TASKS
TABLE11 = {
    "conll03": {
        "full+l1:0.01": ((0.9013, 0.0007), (-0.0337, 0.0004), (0.4044, 0.0016), (0.9217, 0.0008), (0.9278, 0.0009), (0.9399, 0.0039), (0.9712, 0.0036)),
        "full+l1:0.1": ((0.8824, 0.0013), (-0.0165, 0.0014), (0.3869, 0.0026), (0.9211, 0.0009), (0.9275, 0.0010), (0.9424, 0.0025), (0.9744, 0.0033)),
        "full+l1:1": ((0.8387, 0.0015), (-0.0101, 0.0009), (0.4106, 0.0007), (0.9215, 0.0013), (0.9267, 0.0018), (0.9433, 0.0059), (0.9752, 0.0018)),
        "full+l2:0.01": ((0.9203, 0.0010), (-0.0704, 0.0009), (0.3870, 0.0053), (0.9211, 0.0025), (0.9229, 0.0013), (0.9404, 0.0018), (0.9684, 0.0036)),
        "full+l2:0.1": ((0.9210, 0.0025), (-0.0654, 0.0027), (0.4067, 0.0035), (0.9213, 0.0022), (0.9248, 0.0007), (0.9394, 0.0029), (0.9720, 0.0028)),
        "full+l2:1": ((0.9192, 0.0016), (-0.0595, 0.0009), (0.4086, 0.0058), (0.9223, 0.0013), (0.9237, 0.0025), (0.9413, 0.0053), (0.9720, 0.0020)),
    },
    "qnli": {
        "full+l1:0.01": ((0.8701, 0.0008), (0.0149, 0.0009), (0.4177, 0.0022), (0.9197, 0.0013), (0.9258, 0.0010), (0.9415, 0.0037), (0.9756, 0.0030)),
        "full+l1:0.1": ((0.8323, 0.0008), (0.0198, 0.0012), (0.4259, 0.0016), (0.9211, 0.0021), (0.9267, 0.0012), (0.9415, 0.0045), (0.9748, 0.0023)),
        "full+l1:1": ((0.6640, 0.0005), (0.0086, 0.0005), (0.4434, 0.0013), (0.9218, 0.0018), (0.9276, 0.0017), (0.9436, 0.0038), (0.9760, 0.0042)),
        "full+l2:0.01": ((0.9270, 0.0018), (-0.0203, 0.0020), (0.4146, 0.0036), (0.9196, 0.0014), (0.9310, 0.0014), (0.9385, 0.0033), (0.9760, 0.0037)),
        "full+l2:0.1": ((0.9242, 0.0016), (-0.0174, 0.0016), (0.4210, 0.0013), (0.9194, 0.0012), (0.9301, 0.0018), (0.9344, 0.0033), (0.9700, 0.0058)),
        "full+l2:1": ((0.9132, 0.0018), (-0.0041, 0.0014), (0.4247, 0.0026), (0.9189, 0.0018), (0.9306, 0.0018), (0.9443, 0.0039), (0.9776, 0.0026)),
    },
    "sst2": {
        "full+l1:0.01": ((0.9326, 0.0022), (-0.0026, 0.0023), (0.4279, 0.0017), (0.9206, 0.0020), (0.9275, 0.0018), (0.9413, 0.0026), (0.9752, 0.0018)),
        "full+l1:0.1": ((0.9177, 0.0014), (-0.0023, 0.0013), (0.4328, 0.0012), (0.9194, 0.0013), (0.9284, 0.0013), (0.9401, 0.0022), (0.9772, 0.0023)),
        "full+l1:1": ((0.8711, 0.0012), (0.0170, 0.0013), (0.4400, 0.0015), (0.9182, 0.0028), (0.9277, 0.0024), (0.9392, 0.0034), (0.9776, 0.0022)),
        "full+l2:0.01": ((0.9436, 0.0020), (-0.0386, 0.0020), (0.4034, 0.0019), (0.9198, 0.0011), (0.9256, 0.0012), (0.9411, 0.0032), (0.9736, 0.0036)),
        "full+l2:0.1": ((0.9438, 0.0021), (-0.0255, 0.0019), (0.4169, 0.0027), (0.9196, 0.0017), (0.9269, 0.0021), (0.9394, 0.0030), (0.9736, 0.0048)),
        "full+l2:1": ((0.9429, 0.0012), (-0.0118, 0.0010), (0.4266, 0.0016), (0.9198, 0.0017), (0.9257, 0.0005), (0.9417, 0.0017), (0.9752, 0.0030)),
    },
    "trec6": {
        "full+l1:0.01": ((0.9528, 0.0021), (0.0114, 0.0022), (0.4203, 0.0005), (0.9216, 0.0024), (0.9250, 0.0017), (0.9378, 0.0056), (0.9724, 0.0046)),
        "full+l1:0.1": ((0.9296, 0.0024), (0.0262, 0.0035), (0.4133, 0.0015), (0.9201, 0.0009), (0.9269, 0.0021), (0.9424, 0.0025), (0.9764, 0.0026)),
        "full+l1:1": ((0.4836, 0.0033), (0.0568, 0.0056), (0.4434, 0.0017), (0.9190, 0.0012), (0.9288, 0.0008), (0.9411, 0.0015), (0.9756, 0.0017)),
        "full+l2:0.01": ((0.9720, 0.0061), (-0.0209, 0.0056), (0.4011, 0.0058), (0.9217, 0.0019), (0.9265, 0.0015), (0.9438, 0.0038), (0.9716, 0.0033)),
        "full+l2:0.1": ((0.9724, 0.0030), (-0.0159, 0.0025), (0.4166, 0.0023), (0.9207, 0.0018), (0.9268, 0.0014), (0.9397, 0.0017), (0.9680, 0.0047)),
        "full+l2:1": ((0.9680, 0.0050), (-0.0086, 0.0057), (0.4233, 0.0035), (0.9203, 0.0021), (0.9263, 0.0021), (0.9417, 0.0041), (0.9716, 0.0017)),
    },
}


def _frame(rows, index: list[str], measures: tuple[str, ...]) -> pd.DataFrame:
    """One row per (keys, values): keys become the index, each (mean, std) two float columns."""
    records = []
    for keys, values in rows:
        record = dict(zip(index, keys))
        for measure, (mean, std) in zip(measures, values, strict=True):
            record[f"{measure} paper mean"] = float(mean)
            record[f"{measure} paper std"] = float(std)
        records.append(record)
    return pd.DataFrame(records).set_index(index)


def _nested(table: dict) -> list:
    return [((outer, inner), values) for outer, rows in table.items() for inner, values in rows.items()]


def table3() -> pd.DataFrame:
    """Table 3 (roberta-base, 5 seeds), index variant (13 rows).

    Columns ``primary``/``secondary``: score difference to full fine-tuning of the pretrained network;
    ``secondary_decoder``: secondary score of a tuned decoder, difference to a decoder on the pretrained
    network; ``gap``: negative train/test gap; ``mlm``: MLM score difference to the initial MLM score.
    All averaged over the 4 primary tasks, 5 seeds and all secondary tasks; higher is better everywhere.
    """
    return _frame([((v,), values) for v, values in TABLE3.items()], ["variant"], TABLE3_MEASURES)


def table6() -> pd.DataFrame:
    """Table 6 (roberta-base, 5 seeds), index (primary_task, variant), 32 rows.

    ``primary``: primary test score; ``secondary_diff``: secondary score difference to full fine-tuning
    of the pretrained network, averaged over the secondary tasks; ``mlm``: MLM precision@1.
    """
    return _frame(_nested(TABLE6), ["primary_task", "variant"], TABLE6_MEASURES)


def table7() -> pd.DataFrame:
    """Table 7 (roberta-base, 5 seeds), index (primary_task, variant), 32 rows.

    ``primary``: primary test score; ``mlm``: MLM precision@1; ``conll03``/``qnli``/``sst2``/``trec6``:
    test score of full fine-tuning on that secondary task after the variant tuned the primary task.
    """
    return _frame(_nested(TABLE7), ["primary_task", "variant"], TABLE7_MEASURES)


def table8() -> pd.DataFrame:
    """Table 8 (XLM-RoBERTa-base, 5 seeds), index (subset_size, variant), 24 rows; primary task conll03.

    ``primary``: English CoNLL-03 score of the variant; ``conll03_de decoder``/``conll03_de full``: German
    CoNLL-03 after tuning only a decoder / full fine-tuning; ``trec6 decoder``/``trec6 full``: same for
    TREC-6. Compare with TABLE8_GERMAN_BASELINE (full fine-tuning of the pretrained model on German).
    """
    return _frame(_nested(TABLE8), ["subset_size", "variant"], TABLE8_MEASURES)


def table9() -> pd.DataFrame:
    """Table 9 (roberta-base, 5 seeds): LoRA by rank, index variant ("lora" is rank 4), 6 rows.

    ``rank`` (int), ``parameter share`` (fraction of tuned parameters, 0.0003 = 0.03%), then the test
    score per task ``conll03``/``qnli``/``sst2``/``trec6``.
    """
    frame = _frame([((v,), scores) for v, (_, _, scores) in TABLE9.items()], ["variant"], TASKS)
    frame.insert(0, "rank", [rank for rank, _, _ in TABLE9.values()])
    frame.insert(1, "parameter share", [float(share) for _, share, _ in TABLE9.values()])
    return frame


def table10() -> pd.DataFrame:
    """Table 10 (roberta-base, 5 seeds): LoRA rank 4 ("lora"), index primary_task, 4 rows.

    ``primary``: primary test score; ``mlm``: MLM precision@1; ``conll03``/``qnli``/``sst2``/``trec6``:
    full fine-tuning on that secondary task after LoRA tuned the primary task.
    """
    return _frame([((t,), values) for t, values in TABLE10.items()], ["primary_task"], TABLE7_MEASURES)


def table11() -> pd.DataFrame:
    """Table 11 (roberta-base, 5 seeds): regularised full fine-tuning, index (primary_task, variant), 24 rows.

    Variants "full+l1:C" / "full+l2:C" for C in 0.01, 0.1, 1. ``primary``: primary test score; ``gap``:
    negative train/test gap; ``mlm``: MLM precision@1; ``conll03``/``qnli``/``sst2``/``trec6``: full
    fine-tuning on that secondary task afterwards.
    """
    return _frame(_nested(TABLE11), ["primary_task", "variant"], TABLE11_MEASURES)
