"""Face templates: the FFHQ 5-point (and 3-point) alignment template at 512 pixels and the mean 68-point face shape,
with the iBUG 68-point index ranges of the eyes and mouth."""
import numpy as np

__all__ = ['FFHQ_TEMPLATE_5', 'FFHQ_TEMPLATE_3', 'MEAN_SHAPE_68', 'LANDMARK_RANGES', 'five_points_of', 'face_template']

# Five FFHQ-aligned points (eye centres, nose tip, mouth corners; image left first) of a 512x512 face,
# the template facexlib's FaceRestoreHelper aligns to.
FFHQ_TEMPLATE_5 = np.array([[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935],
                            [201.26117, 371.41043], [313.08905, 371.15118]])
FFHQ_TEMPLATE_3 = np.array([[192, 240], [319, 240], [257, 371]], dtype=np.float64)  # eyes and mouth centre

# 68-point index ranges (iBUG / dlib convention, 0-based) of each component.
LANDMARK_RANGES = {'left_eye': range(36, 42), 'right_eye': range(42, 48), 'mouth': range(48, 68)}

# Mean 68-point face shape (dlib's mean landmarks, normalised to about [0, 1]), rounded to 5 decimals from
# TEMPLATE in OpenFace's openface/align_dlib.py (github.com/cmusatyalab/openface, Apache-2.0).
MEAN_SHAPE_68 = np.array([[0.07924, 0.33922], [0.08292, 0.45696], [0.09679, 0.57565], [0.12214, 0.69192],
                          [0.16869, 0.80034], [0.23979, 0.89573], [0.32566, 0.97707], [0.42232, 1.04329],
                          [0.53178, 1.06080], [0.64130, 1.03982], [0.73811, 0.97227], [0.82444, 0.88962],
                          [0.89479, 0.79249], [0.93940, 0.68155], [0.96112, 0.56224], [0.97058, 0.44176],
                          [0.97119, 0.32212], [0.16385, 0.24915], [0.21780, 0.20426], [0.29130, 0.19237],
                          [0.36746, 0.20358], [0.43929, 0.23314], [0.58645, 0.22814], [0.66015, 0.19592],
                          [0.73747, 0.18236], [0.81324, 0.19283], [0.87076, 0.23529], [0.51535, 0.31864],
                          [0.51622, 0.39620], [0.51712, 0.47380], [0.51816, 0.55316], [0.43370, 0.60405],
                          [0.47550, 0.62076], [0.52071, 0.63427], [0.56587, 0.61880], [0.60705, 0.60158],
                          [0.25242, 0.33105], [0.29866, 0.30265], [0.35575, 0.30302], [0.40372, 0.33868],
                          [0.35251, 0.34999], [0.29679, 0.35048], [0.63133, 0.33414], [0.67907, 0.29645],
                          [0.73597, 0.29472], [0.78287, 0.32131], [0.74031, 0.34185], [0.68500, 0.34373],
                          [0.35317, 0.74619], [0.41459, 0.71905], [0.47768, 0.70684], [0.52273, 0.71709],
                          [0.56983, 0.70541], [0.63520, 0.71566], [0.69952, 0.73942], [0.63945, 0.80524],
                          [0.57641, 0.83544], [0.52540, 0.84171], [0.47642, 0.83751], [0.41380, 0.81005],
                          [0.38008, 0.74998], [0.47796, 0.74513], [0.52339, 0.74892], [0.57106, 0.74333],
                          [0.67241, 0.74418], [0.57254, 0.77661], [0.52401, 0.78337], [0.47756, 0.77848]])


def five_points_of(shape68):
    """The 5 facexlib-order points of a (68, 2) shape: eye centres, nose tip (30), mouth corners (48, 54)."""
    return np.stack([
        shape68[LANDMARK_RANGES['left_eye']].mean(0), shape68[LANDMARK_RANGES['right_eye']].mean(0), shape68[30],
        shape68[48], shape68[54]
    ])


def face_template(face_size=512, crop_ratio=(1, 1), three_points=False):
    """The FFHQ template for a ``face_size`` crop enlarged by ``crop_ratio`` (h, w) around it, as facexlib builds it:
    (5, 2), or (3, 2) eyes and mouth centre with ``three_points``, in crop pixels."""
    template = (FFHQ_TEMPLATE_3 if three_points else FFHQ_TEMPLATE_5) * (face_size / 512.0)
    template[:, 1] += face_size * (crop_ratio[0] - 1) / 2
    template[:, 0] += face_size * (crop_ratio[1] - 1) / 2
    return template
