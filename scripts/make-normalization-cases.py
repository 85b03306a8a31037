#!/usr/bin/env python3
"""Writes the golden input cases of the normalization tests (issue 3) into --out.

Small CT-like objects (16x16 pixels) whose metadata exercises the rules: Latin-1 names with and
without Specific Character Set, odd Person Name formats, padded lower-case accession numbers, a
missing Institution Name, an institution code for a value map, an existing Original Attributes
Sequence item, UTF-8 text, and objects without pixel data. Raw bytes are written exactly (values
are set as bytes where the encoding matters), so the tests see what legacy senders send.
Prints one line per file: case name and path. No real patient data.
"""
import argparse
import os
import uuid

import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID

BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"


def new_uid():
    return "2.25." + str(uuid.uuid4().int)


def base(sop_class=CTImageStorage, pixels=True):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = new_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = new_uid()
    ds.SeriesInstanceUID = new_uid()
    ds.Modality = "CT" if pixels else "SR"
    ds.PatientID = "12345"
    ds.StudyDate = "20260101"
    ds.AccessionNumber = "ACC0001"
    if pixels:
        ds.Rows = 16
        ds.Columns = 16
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 12
        ds.HighBit = 11
        ds.PixelRepresentation = 0
        ds.PixelData = (np.arange(256, dtype=np.uint16) * 13 % 4096).astype(np.uint16).tobytes()
    return ds


def set_raw(ds, keyword, vr, raw):
    """Sets a text element to exact bytes (bypassing pydicom's encoding)."""
    ds.add_new(keyword, vr, raw)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    cases = {}

    # Latin-1 declared; padded lower-case accession; no Institution Name.
    ds = base()
    ds.SpecificCharacterSet = "ISO_IR 100"
    set_raw(ds, "PatientName", "PN", "Müller^Jürgen".encode("latin-1"))
    ds.AccessionNumber = " acc-0042 "
    cases["latin1-declared"] = ds

    # Latin-1 bytes with no Specific Character Set (the legacy case).
    ds = base()
    set_raw(ds, "PatientName", "PN", "Gonçalves^José".encode("latin-1"))
    ds.AccessionNumber = "acc-0043"
    ds.InstitutionName = "Site A Hospital"
    cases["latin1-undeclared"] = ds

    # Odd Person Name formats, ASCII only, no Specific Character Set.
    ds = base()
    ds.PatientName = "Doe, John"
    set_raw(ds, "ReferringPhysicianName", "PN", b" Smith ^ Anna ^^^ ")
    ds.AccessionNumber = "  ACC0044"
    ds.InstitutionName = "SEH"
    cases["odd-names"] = ds

    # An institution code for the value map and an existing Original Attributes Sequence item.
    ds = base()
    ds.PatientName = "ROE^JANE"
    ds.InstitutionName = "SEH"
    ds.AccessionNumber = "ACC0045"
    earlier = Dataset()
    earlier.AttributeModificationDateTime = "20250101000000"
    earlier.ModifyingSystem = "EARLIER"
    earlier.SourceOfPreviousValues = "MODALITY"
    earlier.ReasonForTheAttributeModification = "CORRECT"
    prior = Dataset()
    prior.PatientName = "ROE^J"
    earlier.ModifiedAttributesSequence = Sequence([prior])
    ds.OriginalAttributesSequence = Sequence([earlier])
    cases["existing-original-attributes"] = ds

    # Already UTF-8.
    ds = base()
    ds.SpecificCharacterSet = "ISO_IR 192"
    set_raw(ds, "PatientName", "PN", "Ødegård^Åse".encode("utf-8"))
    ds.AccessionNumber = "acc0046"
    cases["utf8"] = ds

    # No pixel data (a Basic Text SR): normalized, never transcoded.
    ds = base(BASIC_TEXT_SR, pixels=False)
    ds.PatientName = "DOE^JOHN"
    ds.AccessionNumber = " acc0047"
    cases["no-pixel-data"] = ds

    for name, ds in cases.items():
        path = os.path.join(args.out, name + ".dcm")
        ds.save_as(path, write_like_original=False)
        print(name, path)


if __name__ == "__main__":
    main()
