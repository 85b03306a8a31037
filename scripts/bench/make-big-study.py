#!/usr/bin/env python3
"""Writes a large synthetic CT study fast, for the memory benchmark: --gb gigabytes of distinct
512x512 16-bit slices (one study, one series; every slice has its own SOP Instance UID and
instance number, the pixel data comes from a few precomputed templates)."""
import argparse
import os
import uuid

import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID


def uid():
    return "2.25." + str(uuid.uuid4().int)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--gb", type=float, default=2.1)
    ap.add_argument("--rows", type=int, default=512)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(7)
    templates = [np.clip(1000 + rng.normal(0, 40, (args.rows, args.rows)), 0, 4095).astype(np.uint16).tobytes()
                 for _ in range(8)]
    per = args.rows * args.rows * 2 + 1200
    count = int(args.gb * 1e9 / per) + 1
    study, series, frame = uid(), uid(), uid()
    for i in range(count):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
        ds.is_little_endian, ds.is_implicit_VR = True, False
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality, ds.PatientName, ds.PatientID = "CT", "BIG^STUDY", "BIG0001"
        ds.StudyDate, ds.StudyTime, ds.AccessionNumber, ds.StudyID, ds.SeriesNumber = "20260101", "120000", "BIG1", "1", 1
        ds.InstanceNumber = i + 1
        ds.ImagePositionPatient = [0, 0, float(i)]
        ds.Rows = ds.Columns = args.rows
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.PixelData = templates[i % len(templates)]
        ds.save_as(os.path.join(args.out, "big%05d.dcm" % (i + 1)), write_like_original=False)
    print(f"{count} slices in {args.out}")


if __name__ == "__main__":
    main()
