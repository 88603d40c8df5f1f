"""heartbleed-audit replace: the seed's remediation, made safe (dry run unless --apply)."""

from __future__ import annotations

import argparse
from typing import Any

from botocore.exceptions import ClientError

from heartbleed.certificate import BodyError, read_body
from heartbleed.retry_policy import error_code

from . import remediation
from .cli_shared import CliError, add_aws_options, aws_errors, client, rule_parameters, session_for


def add_parser(commands: Any) -> None:
    fix = commands.add_parser(
        "replace",
        help="replace a certificate safely (dry run unless --apply)",
        description="Check the new certificate, find where the old one is used "
        "(ELB, ELBv2, CloudFront), and replace it without breaking a live listener.",
    )
    fix.add_argument("old_name", metavar="OLD_NAME", help="the IAM server certificate to replace")
    fix.add_argument("--certificate-body", required=True, metavar="FILE", help="the new certificate (PEM)")
    fix.add_argument("--private-key", required=True, metavar="FILE", help="its new private key (PEM, never shown)")
    fix.add_argument("--certificate-chain", metavar="FILE", help="the chain (PEM), first the issuer")
    fix.add_argument(
        "--new-name",
        help="name for the new certificate (default: OLD_NAME, or OLD_NAME-YYYYMMDD while the old one is in use)",
    )
    fix.add_argument("--cutoff", help="the new certificate must be issued after this (default: the rule's)")
    fix.add_argument("--apply", action="store_true", help="make the changes (default: a dry run)")
    add_aws_options(fix)
    fix.set_defaults(run=replace, no_body_check=False, exempt=None)


def replace(args: argparse.Namespace) -> int:
    cutoff = rule_parameters(args).cutoff
    material = remediation.check_material(args.certificate_body, args.private_key, args.certificate_chain, cutoff)
    session = session_for(args)
    with aws_errors():
        iam = client(args, session, "iam")
        old = iam.get_server_certificate(ServerCertificateName=args.old_name)["ServerCertificate"]
        meta = old["ServerCertificateMetadata"]
        try:
            old_key = read_body(old["CertificateBody"]).key_fingerprint
        except BodyError:
            raise CliError(f"the body of {args.old_name} cannot be read, so re-keying cannot be checked") from None
        if old_key == material.key_fingerprint:
            raise CliError(
                f"the new certificate has the same key as {args.old_name}: it was reissued, not re-keyed; "
                "generate a new private key and have the certificate reissued for it"
            )
        users = remediation.find_users(
            lambda service, region: client(args, session, service, region), meta["Arn"], meta["ServerCertificateId"]
        )
        print(f"old: {meta['Arn']} (id {meta['ServerCertificateId']}, uploaded {meta['UploadDate']:%Y-%m-%d})")
        print(
            f"new: checked: key matches, issued {material.not_before:%Y-%m-%d} (after the cutoff), valid now, "
            "a key type IAM's users serve, new key" + (", chain links" if material.chain else "")
        )
        for user in users:
            print(f"in use: {user.where}")
        name = args.new_name or (remediation.new_name(args.old_name) if users else args.old_name)
        if not users:
            plan = [f"delete {args.old_name}", f"upload the new certificate as {name} at path {meta['Path']}"]
        else:
            plan = [f"upload the new certificate as {name} at path {meta['Path']} (the old one is in use: kept)"]
        print("plan: " + "; then ".join(plan))
        if not args.apply:
            print("dry run: nothing changed; run again with --apply")
            return 0
        if not users:  # the seed's steps: the name is free only once the old one is gone
            iam.delete_server_certificate(ServerCertificateName=args.old_name)
        upload = {
            "ServerCertificateName": name,
            "Path": meta["Path"],
            "CertificateBody": material.body,
            "PrivateKey": material.private_key,
        }
        if material.chain:
            upload["CertificateChain"] = material.chain
        try:
            new = iam.upload_server_certificate(**upload)["ServerCertificateMetadata"]
        except ClientError as error:
            if users:
                raise
            code = error_code(error)
            raise CliError(
                f"{args.old_name} (unused) was deleted, but the upload failed ({code}); upload it again with: "
                f"aws iam upload-server-certificate --server-certificate-name {name} --path {meta['Path']} "
                f"--certificate-body file://{args.certificate_body} --private-key file://{args.private_key}"
            ) from None
    print(f"uploaded {new['Arn']} (id {new['ServerCertificateId']})")
    for user in users:
        command = user.switch_command.replace("NEW_ARN", new["Arn"]).replace("NEW_ID", new["ServerCertificateId"])
        print(f"switch {user.where}:\n  {command}")
    if users:
        print(
            f"then, once nothing uses it: aws iam delete-server-certificate --server-certificate-name {args.old_name}"
        )
    return 0
