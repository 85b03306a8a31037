#!/usr/bin/env python3
"""Writes a synthetic CT series (Part 10 files) for tests and benchmarks.

Each slice is a 16-bit MONOCHROME2 image with a smooth phantom plus noise, so codecs see
realistic, compressible but not trivial data. UIDs are random (2.25 root), names come from
internal counters. No real patient data.
"""
import argparse
import os
import uuid

import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, CTImageStorage, PYDICOM_IMPLEMENTATION_UID


def new_uid() -> str:
    return "2.25." + str(uuid.uuid4().int)


def make_slice(index, args, study_uid, series_uid, frame_uid, rng):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = new_uid()
    meta.TransferSyntaxUID = ImplicitVRLittleEndian if args.implicit else ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.is_little_endian = True
    ds.is_implicit_VR = args.implicit
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = frame_uid
    ds.Modality = "CT"
    ds.PatientName = args.patient_name
    ds.PatientID = args.patient_id
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.StudyDate = "20260101"
    ds.StudyTime = "120000"
    ds.AccessionNumber = "ACC0001"
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = index + 1
    ds.StudyDescription = args.study_description
    ds.ImagePositionPatient = [0, 0, float(index)]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.SliceThickness = 1.0
    ds.PixelSpacing = [0.7, 0.7]
    ds.Rows = args.rows
    ds.Columns = args.cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    y, x = np.mgrid[0 : args.rows, 0 : args.cols]
    cy, cx = args.rows / 2, args.cols / 2
    r = np.sqrt((y - cy) ** 2 + (x - cx) ** 2)
    body = np.where(r < min(cy, cx) * 0.85, 1000 + 40 * np.sin(r / 9.0 + index / 5.0), 0)
    noise = rng.normal(0, 12, size=(args.rows, args.cols))
    pixels = np.clip(body + noise + 24, 0, 4095).astype(np.uint16)
    ds.PixelData = pixels.tobytes()
    return ds


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--rows", type=int, default=512)
    parser.add_argument("--cols", type=int, default=512)
    parser.add_argument("--implicit", action="store_true", help="write Implicit VR Little Endian")
    parser.add_argument("--study-description", default="CT CHEST")
    parser.add_argument("--patient-name", default="TEST^PATIENT")
    parser.add_argument("--patient-id", default="PID0001")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    study_uid, series_uid, frame_uid = new_uid(), new_uid(), new_uid()
    for i in range(args.count):
        ds = make_slice(i, args, study_uid, series_uid, frame_uid, rng)
        ds.save_as(os.path.join(args.out, "ct%04d.dcm" % (i + 1)), write_like_original=False)
    print(study_uid)


if __name__ == "__main__":
    main()
